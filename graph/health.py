"""Readiness of the graph store: a real round trip to Neo4j when one is configured, and the
projection's lag (the age of the oldest pending outbox row) when a projection is on."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from graph.connection import graph_configured, graph_ping
from graph.projection import projection_oldest_age
from graph.writes import projection_queued


async def graph_health() -> dict[str, Any]:
    """The backend and, when a projection is on, its lag (``projection`` is null otherwise:
    nothing is queued, so nothing lags); ``status: down`` (with the error) when a configured
    Neo4j does not answer ``RETURN 1`` within the timeout, so the lag is reported either way.

    The lag is one index probe (the oldest pending row), never a count of the outbox: the
    probe stays as cheap with a million rows behind as with none.
    """
    projection: dict[str, Any] | None = None
    if projection_queued():
        age = await sync_to_async(projection_oldest_age)()
        projection = {"oldest_age_seconds": round(age, 3) if age is not None else None}
    report: dict[str, Any] = {"backend": settings.GRAPH_BACKEND, "projection": projection}
    if settings.GRAPH_BACKEND == "neo4j" or graph_configured():
        try:
            await asyncio.wait_for(graph_ping(), timeout=settings.GRAPH_CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            return {"status": "down", "error": "timed out", **report}
        except Exception as exc:  # noqa: BLE001 - any driver failure means "down", reported
            return {"status": "down", "error": type(exc).__name__, **report}
        report["neo4j"] = "up"
    return report
