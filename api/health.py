"""Liveness (touches nothing) and readiness (checks every backing service with a timeout)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from musicbud.cache import async_cache


@require_GET
async def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _check_database() -> dict[str, Any]:
    # One explicit hop: the ORM connection is thread-bound; readiness is not a hot path.
    await sync_to_async(_database_ping, thread_sensitive=True)()
    return {"engine": connection.vendor}


async def _check_cache() -> dict[str, Any]:
    await async_cache.set("health:ping", 1, expire=10)
    if await async_cache.get("health:ping") != 1:
        raise RuntimeError("cache did not return the value just written")
    return {"backend": "redis" if async_cache.uses_redis else "memory"}


async def _check_graph() -> dict[str, Any]:
    from graph.health import graph_health

    return await graph_health()


async def _timed(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(check(), timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        result: dict[str, Any] = {"status": "down", "error": "timed out"}
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure, never raises
        result = {"status": "down", "error": type(exc).__name__}
    else:
        # A check may report itself down with the facts it still has (the graph's lag).
        result = {"status": "up", **extra}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


@require_GET
async def ready(request: HttpRequest) -> JsonResponse:
    names = ("database", "cache", "graph")
    results = await asyncio.gather(
        _timed(_check_database), _timed(_check_cache), _timed(_check_graph)
    )
    components = dict(zip(names, results, strict=True))
    ok = all(component["status"] == "up" for component in components.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "components": components},
        status=200 if ok else 503,
    )
