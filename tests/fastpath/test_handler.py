"""The project's ASGI handler: no thread hop on the loop-only path, stock behaviour otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

from fastpath.handler import (
    HopFreeASGIHandler,
    register_loop_safe_receiver,
    unregister_loop_safe_receiver,
)
from tests.config import asgi_urls
from tests.conftest import require_service
from tests.factories import UserFactory
from tests.fixtures.asgi import HopRecorder, asgi_request, http_scope, live_requests

pytestmark = pytest.mark.urls("tests.config.asgi_urls")

CLOSE = "HttpResponseBase.close"


@contextlib.contextmanager
def receiver_threads(signal: Signal) -> Iterator[list[int]]:
    """A receiver of ``signal`` recording the thread each call ran in (not loop-safe)."""
    threads: list[int] = []

    def receiver(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signal.connect(receiver)
    try:
        yield threads
    finally:
        signal.disconnect(receiver)


@pytest.fixture
def finished_calls() -> Iterator[list[int]]:
    """The thread of every request_finished call."""
    with receiver_threads(request_finished) as calls:
        yield calls


@pytest.fixture
def loop_safe_finished_calls(finished_calls: list[int]) -> Iterator[list[int]]:
    """The same receiver, declared safe to run on the event loop."""
    receiver = request_finished._live_receivers(HopFreeASGIHandler)[0][-1]
    register_loop_safe_receiver(receiver)
    yield finished_calls
    unregister_loop_safe_receiver(receiver)


@pytest.fixture
def created_connections() -> Iterator[list[int]]:
    """The thread of every new DB connection (Django's connection_created signal)."""
    with receiver_threads(connection_created) as created:
        yield created


@pytest.fixture
def sqlite_conn_max_age(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Sets the default database's CONN_MAX_AGE for the test; SQLite only (skips elsewhere)."""
    if connection.vendor != "sqlite":
        pytest.skip("psycopg's pool requires CONN_MAX_AGE=0 on PostgreSQL")
    return partial(monkeypatch.setitem, connections.settings["default"], "CONN_MAX_AGE")


def open_connections() -> int:
    """Django DB connections open in any thread of this process."""
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        # type(), not isinstance(): isinstance asks a lazy object (a request's CSP nonce,
        # left by an earlier test) for its __class__, which evaluates it.
        if issubclass(type(obj), BaseDatabaseWrapper) and obj.connection is not None
    )


async def test_live_makes_no_hop_and_no_query(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    response = await asgi_request(hop_free_app, reverse("health-live"))

    assert response.status == HTTPStatus.OK
    assert response.json() == {"status": "ok"}
    assert count_sync_hops.thread_sensitive == []
    assert count_sync_hops.thread_free == []
    assert count_sync_hops.queries == []
    assert hop_free_app.thread_pool.created == 0


async def test_stock_handler_hops_twice_for_the_same_request(
    count_sync_hops: HopRecorder,
) -> None:
    # The baseline this handler removes: request_started and response.close in a thread.
    response = await asgi_request(ASGIHandler(), reverse("health-live"))

    assert response.status == HTTPStatus.OK
    assert count_sync_hops.thread_sensitive == ["Signal.asend.<locals>.sync_send", CLOSE]


async def test_loop_safe_request_finished_receiver_runs_once_per_request_on_the_loop(
    hop_free_app: HopFreeASGIHandler,
    count_sync_hops: HopRecorder,
    loop_safe_finished_calls: list[int],
) -> None:
    for _ in range(5):
        response = await asgi_request(hop_free_app, reverse("health-live"))
        assert response.status == HTTPStatus.OK

    assert loop_safe_finished_calls == [threading.get_ident()] * 5
    assert count_sync_hops.thread_sensitive == []


async def test_other_sync_receiver_runs_once_per_request_in_a_thread(
    hop_free_app: HopFreeASGIHandler,
    count_sync_hops: HopRecorder,
    finished_calls: list[int],
) -> None:
    for _ in range(5):
        await asgi_request(hop_free_app, reverse("health-live"))

    assert len(finished_calls) == 5
    assert threading.get_ident() not in finished_calls
    # Only the close hops (request_started's receivers are all loop-safe).
    assert count_sync_hops.thread_sensitive == [CLOSE] * 5


async def test_async_receiver_runs_once_per_request(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    calls: list[int] = []

    async def receiver(**kwargs: Any) -> None:
        calls.append(threading.get_ident())

    request_finished.connect(receiver)
    try:
        for _ in range(3):
            await asgi_request(hop_free_app, reverse("health-live"))
    finally:
        request_finished.disconnect(receiver)

    # Signal.send runs async receivers through async_to_sync, so the close goes to a thread
    # and the receiver itself back to the loop.
    assert calls == [threading.get_ident()] * 3
    assert count_sync_hops.thread_sensitive == [CLOSE] * 3


@pytest.mark.django_db(transaction=True)
async def test_request_that_hops_finishes_in_its_own_thread(
    hop_free_app: HopFreeASGIHandler,
    count_sync_hops: HopRecorder,
    loop_safe_finished_calls: list[int],
) -> None:
    await sync_to_async(UserFactory.create_batch)(2)
    count_sync_hops.clear()

    response = await asgi_request(hop_free_app, reverse("asgi-test-db"))

    body = response.json()
    assert body["users"] == 2
    # request_finished (close_old_connections among its receivers) ran once, in the thread
    # that ran the query: the only thread that can close that connection.
    assert loop_safe_finished_calls == [body["thread"]]
    assert count_sync_hops.thread_sensitive == ["_count_users", CLOSE]
    assert count_sync_hops.queries == ['SELECT COUNT(*) AS "__count" FROM "musicbud_user"']


@pytest.mark.django_db(transaction=True)
async def test_sqlite_connections_closed_after_each_request_when_conn_max_age_is_zero(
    hop_free_app: HopFreeASGIHandler, created_connections: list[int]
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite connection objects; the PostgreSQL test counts server sessions")
    before = open_connections()

    for _ in range(20):
        await asgi_request(hop_free_app, reverse("asgi-test-db"))
    responses = await asyncio.gather(
        *(asgi_request(hop_free_app, reverse("asgi-test-db")) for _ in range(10))
    )

    assert [r.status for r in responses] == [HTTPStatus.OK] * 10
    assert len(created_connections) == 30  # one per request: CONN_MAX_AGE=0 closes each
    assert open_connections() == before


@pytest.mark.django_db(transaction=True)
async def test_sqlite_connection_reused_across_requests_within_conn_max_age(
    hop_free_app: HopFreeASGIHandler,
    created_connections: list[int],
    sqlite_conn_max_age: Callable[[int], None],
) -> None:
    sqlite_conn_max_age(60)
    before = open_connections()

    bodies = [(await asgi_request(hop_free_app, reverse("asgi-test-db"))).json() for _ in range(10)]

    # Sequential requests borrow the same pooled thread and keep its connection.
    assert len(created_connections) == 1
    assert len({(b["thread"], b["connection"]) for b in bodies}) == 1
    assert open_connections() == before + 1
    # Retiring the thread (lifespan shutdown) closes its connection in that thread.
    await hop_free_app.thread_pool.close()
    assert open_connections() == before


@pytest.mark.django_db(transaction=True)
async def test_sqlite_connection_past_conn_max_age_is_replaced(
    hop_free_app: HopFreeASGIHandler,
    created_connections: list[int],
    sqlite_conn_max_age: Callable[[int], None],
) -> None:
    sqlite_conn_max_age(1)
    before = open_connections()

    first = (await asgi_request(hop_free_app, reverse("asgi-test-db"))).json()
    await asyncio.sleep(1.1)
    second = (await asgi_request(hop_free_app, reverse("asgi-test-db"))).json()

    assert first["thread"] == second["thread"]
    # The expired connection was closed before the second request's query, as
    # request_started's close_old_connections does under WSGI.
    assert created_connections == [first["thread"], first["thread"]]
    assert open_connections() == before + 1


def _server_sessions(database: str) -> int:
    import psycopg

    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.django_db(transaction=True)
def test_postgresql_connections_return_to_the_pool_after_each_request(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")
    connection.close()
    database = connection.settings_dict["NAME"]
    pool: Any = connection.pool  # type: ignore[attr-defined]
    before = pool.get_stats()
    # Connections held elsewhere (earlier tests' threads, an earlier pool) stay as they are;
    # what must not change is how many are checked out, in the pool or outside it.
    held_before = before["pool_size"] - before["pool_available"]
    outside_before = _server_sessions(database) - before["pool_size"]

    async def load() -> list[int]:
        statuses = [
            (await asgi_request(hop_free_app, reverse("asgi-test-db"))).status for _ in range(20)
        ]
        concurrent = await asyncio.gather(
            *(asgi_request(hop_free_app, reverse("asgi-test-db")) for _ in range(10))
        )
        return statuses + [r.status for r in concurrent]

    statuses = async_to_sync(load)()

    assert statuses == [HTTPStatus.OK] * 30
    # psycopg returns and grows connections in its own worker threads: let it settle.
    for _ in range(100):
        stats, sessions = pool.get_stats(), _server_sessions(database)
        held, outside = stats["pool_size"] - stats["pool_available"], sessions - stats["pool_size"]
        if (held, outside) == (held_before, outside_before):
            break
        time.sleep(0.02)
    # Every connection the requests took is back in the pool, and none was opened beside it.
    assert (held, outside) == (held_before, outside_before)
    assert stats["pool_size"] <= connection.settings_dict["OPTIONS"]["pool"]["max_size"]
    # Each request was closed in its own thread (where its connection was).
    assert count_sync_hops.thread_sensitive.count(CLOSE) == 30


@contextlib.contextmanager
def collected_garbage() -> Iterator[list[object]]:
    """What the garbage collector finds unreachable during the block (objects only a
    reference cycle kept alive), kept for inspection instead of freed."""
    gc.collect()
    found: list[object] = []
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("url_name", "method"),
    [
        ("health-live", "GET"),  # on the loop only
        ("asgi-test-db", "GET"),  # a thread hop and a query
        ("asgi-test-session", "GET"),  # the lazy session, built and saved
        ("asgi-test-message", "GET"),  # the lazy message storage, used
    ],
)
async def test_a_served_request_is_freed_without_the_garbage_collector(
    hop_free_app: HopFreeASGIHandler, url_name: str, method: str
) -> None:
    # Every request's middleware hangs closures over the request on it (the lazy user, its
    # messages, the CSP nonce), and every request used to end with a RequestAborted whose
    # traceback held the handler's frames: the whole request, response and tasks were
    # garbage for the collector, which under load lets a worker's memory grow by megabytes.
    await asgi_request(hop_free_app, reverse(url_name), method=method)  # first-use work

    with collected_garbage() as garbage:
        # Counted after its collection: earlier tests' garbage (a request an error answer
        # left in a cycle) is not this test's.
        live_before = live_requests()
        for _ in range(3):
            response = await asgi_request(hop_free_app, reverse(url_name), method=method)
            assert response.status == HTTPStatus.OK
        del response

    # type(), not isinstance(): the garbage holds lazy objects, which isinstance evaluates.
    kinds = [type(obj) for obj in garbage]
    requests = [kind.__name__ for kind in kinds if issubclass(kind, HttpRequest)]
    responses = [kind.__name__ for kind in kinds if issubclass(kind, HttpResponseBase)]
    aborted = [kind.__name__ for kind in kinds if issubclass(kind, RequestAborted)]
    assert (requests, responses, aborted) == ([], [], [])
    # Not kept alive either: freed, not merely out of the collector's sight.
    assert live_requests() == live_before


async def test_a_request_cancelled_by_a_disconnect_stays_readable_by_its_running_thread(
    hop_free_app: HopFreeASGIHandler,
) -> None:
    # The client leaves while the view waits for a thread: the request is cancelled, but the
    # thread runs on and reads the request afterwards; the handler must not have emptied it.
    for event in (asgi_urls.slow_started, asgi_urls.slow_release, asgi_urls.slow_done):
        event.clear()
    asgi_urls.slow_reads.clear()
    target = reverse("asgi-test-slow-thread")
    scope = http_scope(target)
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.to_thread(asgi_urls.slow_started.wait, 10)  # the view is in its thread
        return {"type": "http.disconnect"}

    sent: list[Mapping[str, Any]] = []

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    try:
        await hop_free_app(scope, receive, send)
    finally:
        asgi_urls.slow_release.set()  # never leave the thread waiting
        await asyncio.to_thread(asgi_urls.slow_done.wait, 10)

    assert sent == []  # nothing answered: the client had gone
    assert asgi_urls.slow_reads == [f"GET {target} user=False"]


async def test_streaming_response_is_closed_once(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    response = await asgi_request(hop_free_app, reverse("asgi-test-stream"))

    assert response.body == b"one,two"
    assert asgi_urls.ClosableChunks.instances[-1].closed == 1
    assert count_sync_hops.thread_sensitive == []


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_file_response_is_closed(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    response = await asgi_request(hop_free_app, reverse("asgi-test-file"))

    assert response.body == await asyncio.to_thread(Path(asgi_urls.__file__).read_bytes)
    assert asgi_urls.opened_files[-1].closed
    # Django reads a sync iterator (the file) with a thread-sensitive sync_to_async(list);
    # that request used its thread, so it is also closed there, as the stock handler does.
    assert count_sync_hops.thread_sensitive == ["list", CLOSE]


@pytest.mark.django_db(transaction=True)
async def test_thread_is_lent_only_to_requests_that_hop(
    hop_free_app: HopFreeASGIHandler,
) -> None:
    loop_body = (await asgi_request(hop_free_app, reverse("asgi-test-loop"))).json()

    assert loop_body["thread"] == threading.get_ident()
    assert hop_free_app.thread_pool.created == 0

    hopped = (await asgi_request(hop_free_app, reverse("asgi-test-db"))).json()

    assert hopped["thread"] != threading.get_ident()
    assert hop_free_app.thread_pool.created == 1
    assert hop_free_app.thread_pool.idle == 1


@pytest.mark.urls("config.urls")
@pytest.mark.django_db(transaction=True)
async def test_an_oversized_chunked_body_is_a_413_envelope_without_being_kept(
    hop_free_app: HopFreeASGIHandler, settings: Any
) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 1000
    json_headers = [("content-type", "application/json")]

    # No Content-Length: only the bytes read can tell.
    too_large = await asgi_request(
        hop_free_app,
        "/api/v1/auth/login",
        method="POST",
        headers=json_headers,
        chunks=[b'{"username": "', b"x" * 600, b"y" * 600, b'"}'],
    )
    fits = await asgi_request(
        hop_free_app,
        "/api/v1/auth/login",
        method="POST",
        headers=json_headers,
        chunks=[b'{"username": "nobody", ', b'"password": "wrong-password-1"}'],
    )

    assert too_large.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    body = json.loads(too_large.body)
    assert (body["code"], body["message"]) == (
        "request_too_large",
        "Request body is larger than 1000 bytes",
    )
    assert body["request_id"] == too_large.headers["x-request-id"]
    # A chunked body within the limit is read whole: the login is parsed and refused.
    assert fits.status == HTTPStatus.UNAUTHORIZED
    assert json.loads(fits.body)["code"] == "invalid_credentials"
