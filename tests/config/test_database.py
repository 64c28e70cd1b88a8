"""PostgreSQL connections come from psycopg's pool: many requests, few connections."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from pydantic import ValidationError

from config.environment import AppEnvironment
from tests.conftest import require_service

REQUESTS = 60
CONCURRENCY = 6


async def _asgi_get(app: ASGIHandler, path: str) -> tuple[int, bytes]:
    """One request through Django's stock ASGI handler, as uvicorn would send it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested.is_set():
            await asyncio.Future()  # the client stays connected until Django is done
        requested.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def _open_connections() -> int:
    """Backends connected to the test database right now, counted from outside it."""
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"), dbname="postgres"
    ) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            [connection.settings_dict["NAME"]],
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.urls("tests.api.probe")
@pytest.mark.django_db(transaction=True)
async def test_many_asgi_requests_reuse_a_few_pooled_connections() -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")
    database = settings.DATABASES["default"]
    pool = database["OPTIONS"]["pool"]
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (0, True)
    app = ASGIHandler()

    # Under ASGI every request's sync work runs in a thread of its own, and the request's
    # connection is closed when it finishes: without the pool, one backend per request.
    async def batch() -> list[int]:
        pids = []
        for _ in range(REQUESTS // CONCURRENCY):
            status, body = await _asgi_get(app, "/probe/db-pid")
            assert status == 200
            pids.append(json.loads(body)["pid"])
        return pids

    try:
        batches = await asyncio.gather(*(batch() for _ in range(CONCURRENCY)))
        open_connections = await sync_to_async(_open_connections)()
    finally:
        # The pool outlives the test; close it so the test database can be dropped.
        await sync_to_async(connection.close_pool)()  # type: ignore[attr-defined]

    pids = [pid for pids in batches for pid in pids]
    assert len(pids) == REQUESTS
    assert len(set(pids)) <= pool["max_size"] < REQUESTS
    assert 0 < open_connections <= pool["max_size"]


def test_waiting_for_the_database_is_bounded_by_typed_settings() -> None:
    defaults = AppEnvironment(DATABASE_URL="postgres://u@127.0.0.1:5432/musicbud")
    assert (defaults.DB_POOL_TIMEOUT_SECONDS, defaults.DB_CONNECT_TIMEOUT_SECONDS) == (3.0, 3)
    with pytest.raises(ValidationError):
        AppEnvironment(DB_CONNECT_TIMEOUT_SECONDS=0)
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")

    options = settings.DATABASES["default"]["OPTIONS"]

    assert options["connect_timeout"] == settings.ENV.DB_CONNECT_TIMEOUT_SECONDS
    assert options["pool"]["timeout"] == settings.ENV.DB_POOL_TIMEOUT_SECONDS


@pytest.mark.django_db
def test_postgresql_jit_is_off_on_the_projects_connections() -> None:
    """The JIT's compile (100-300 ms for a query estimated costly) is off unless DB_JIT."""
    assert AppEnvironment().DB_JIT is False
    assert AppEnvironment(DB_JIT="true").DB_JIT is True
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        row = cursor.fetchone()

    assert row == ("off",)
    assert settings.DATABASES["default"]["OPTIONS"]["options"] == "-c jit=off"
