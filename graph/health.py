"""Readiness of the graph store."""

from __future__ import annotations

from typing import Any

from django.conf import settings


async def graph_health() -> dict[str, Any]:
    """Report the configured graph backend; the SQL backend is as up as the database."""
    return {"backend": settings.GRAPH_BACKEND}
