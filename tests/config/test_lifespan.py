"""The ASGI lifespan protocol: start-up validates and warms, shutdown closes cleanly."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from django.urls import reverse

from config import lifespan
from config.asgi import build_application
from config.lifespan import LifespanApp
from fastpath.handler import HopFreeASGIHandler
from musicbud.cache import close_redis_clients
from tests.conftest import require_service
from tests.fixtures.asgi import HopRecorder, asgi_request

pytestmark = pytest.mark.urls("tests.config.asgi_urls")

LIFESPAN_SCOPE = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}


async def start(app: LifespanApp) -> tuple[ApplicationCommunicator, dict[str, Any]]:
    communicator = ApplicationCommunicator(app, LIFESPAN_SCOPE)
    await communicator.send_input({"type": "lifespan.startup"})
    message: dict[str, Any] = await communicator.receive_output(10)
    return communicator, message


async def stop(communicator: ApplicationCommunicator) -> dict[str, Any]:
    await communicator.send_input({"type": "lifespan.shutdown"})
    message: dict[str, Any] = await communicator.receive_output(10)
    await communicator.wait(5)
    return message


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    """Start-up freezes the heap (a worker's whole life); a test process thaws it after."""
    yield
    gc.unfreeze()


@pytest.fixture
async def events() -> AsyncIterator[list[str]]:
    """Hooks registered the way other modules register theirs; removed after the test."""
    seen: list[str] = []

    async def started() -> None:
        seen.append("started")

    async def stopped() -> None:
        seen.append("stopped")

    lifespan.on_startup(started)
    lifespan.on_shutdown(stopped)
    yield seen
    lifespan.unregister(started)
    lifespan.unregister(stopped)


@pytest.mark.django_db(transaction=True)
async def test_lifespan_runs_hooks_without_warnings_or_leftover_tasks(
    events: list[str], count_sync_hops: HopRecorder
) -> None:
    app = build_application()
    await close_redis_clients()  # what earlier tests opened on this loop (a reader task)
    tasks_before = asyncio.all_tasks()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        communicator, started = await start(app)
        assert events == ["started"]
        stopped = await stop(communicator)
        gc.collect()  # unclosed sockets or pools would warn (ResourceWarning) here

    assert started == {"type": "lifespan.startup.complete"}
    assert stopped == {"type": "lifespan.shutdown.complete"}
    assert events == ["started", "stopped"]
    # Start-up ends by freezing what it built: no later collection walks it.
    assert gc.get_freeze_count() > 0
    assert [str(w.message) for w in caught] == []
    assert asyncio.all_tasks() == tasks_before
    # Checks, warm-up and pool closing each ran once off the loop, in a thread-free hop
    # (no DB connection may stay behind in a request thread); the warm-up made one query.
    assert count_sync_hops.thread_free == [
        "_run_system_checks",
        "_open_database",
        "_close_database_pool",
    ]
    assert count_sync_hops.thread_sensitive == []
    assert count_sync_hops.queries == ["SELECT 1"]


async def test_failing_startup_hook_fails_startup(events: list[str]) -> None:
    async def broken() -> None:
        raise ImproperlyConfigured("NEO4J_URL is unreachable")

    lifespan.on_startup(broken)
    try:
        communicator, message = await start(build_application())
        await communicator.wait(5)
    finally:
        lifespan.unregister(broken)

    assert message == {"type": "lifespan.startup.failed", "message": "NEO4J_URL is unreachable"}


def _ping_clients() -> set[str]:
    """The ids of this Redis database's connections whose last command was a ping."""
    import redis

    with redis.Redis.from_url(settings.REDIS_URL or "") as admin:
        db = admin.connection_pool.connection_kwargs.get("db", 0)
        clients = admin.client_list()
    return {str(c["id"]) for c in clients if int(c["db"]) == int(db) and c["cmd"] == "ping"}


@pytest.mark.django_db(transaction=True)
async def test_redis_pool_warmed_at_startup_and_closed_at_shutdown() -> None:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")
    before = await asyncio.to_thread(_ping_clients)

    communicator, started = await start(build_application())
    during = await asyncio.to_thread(_ping_clients)
    stopped = await stop(communicator)
    await asyncio.sleep(0.1)  # let the server notice the closed socket
    after = await asyncio.to_thread(_ping_clients)

    assert (started, stopped) == (
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    )
    # By id: a connection an earlier test left may close meanwhile; it is not the warmed one.
    warmed = during - before
    assert len(warmed) == 1
    assert not warmed & after


@pytest.mark.django_db(transaction=True)
async def test_shutdown_retires_request_threads() -> None:
    handler = HopFreeASGIHandler()
    app = LifespanApp(handler, before_shutdown=[handler.aclose])
    communicator, _ = await start(app)
    body = (await asgi_request(app, reverse("asgi-test-db"))).json()
    assert handler.thread_pool.idle == 1

    await stop(communicator)

    assert handler.thread_pool.idle == 0
    for _ in range(50):
        if body["thread"] not in {t.ident for t in threading.enumerate()}:
            break
        await asyncio.sleep(0.02)
    assert body["thread"] not in {t.ident for t in threading.enumerate()}


async def test_shutdown_closes_the_loops_neo4j_driver() -> None:
    from neo4j.exceptions import DriverError

    from graph.connection import async_driver

    opened = []

    async def open_driver() -> None:  # what the first graph query of the worker does
        opened.append(async_driver())

    lifespan.on_startup(open_driver)
    try:
        # Nothing listens there: creating a driver connects to nothing until it is used.
        with override_settings(NEO4J_URL="bolt://127.0.0.1:9"):
            communicator, started = await start(build_application())
            stopped = await stop(communicator)
    finally:
        lifespan.unregister(open_driver)

    assert (started, stopped) == (
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    )
    with pytest.raises(DriverError, match="Driver closed"):
        opened[0].session()


@pytest.mark.django_db(transaction=True)
async def test_the_stock_handler_speaks_lifespan_too(events: list[str]) -> None:
    with override_settings(FAST_PATH=False):
        app = build_application()
    assert type(app.app) is ASGIHandler

    communicator, started = await start(app)
    stopped = await stop(communicator)

    assert (started, stopped) == (
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    )
    assert events == ["started", "stopped"]
