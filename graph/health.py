"""Readiness of the graph store: a real round trip to Neo4j when one is configured, and the
projection lag (pending outbox rows, age of the oldest) whatever the backend."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from graph.connection import graph_configured, graph_ping
from graph.projection import projection_lag


async def graph_health() -> dict[str, Any]:
    """The backend and projection lag; ``status: down`` (with the error) when a configured
    Neo4j does not answer ``RETURN 1`` within the timeout, so the lag is reported either way."""
    lag = await sync_to_async(projection_lag)()
    report: dict[str, Any] = {
        "backend": settings.GRAPH_BACKEND,
        "projection": {
            "pending": lag.pending,
            "oldest_age_seconds": (
                round(lag.oldest_age_seconds, 3) if lag.oldest_age_seconds is not None else None
            ),
        },
    }
    if settings.GRAPH_BACKEND == "neo4j" or graph_configured():
        try:
            await asyncio.wait_for(graph_ping(), timeout=settings.GRAPH_CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            return {"status": "down", "error": "timed out", **report}
        except Exception as exc:  # noqa: BLE001 - any driver failure means "down", reported
            return {"status": "down", "error": type(exc).__name__, **report}
        report["neo4j"] = "up"
    return report
