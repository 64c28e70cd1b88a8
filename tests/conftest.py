"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.test.testcases import LiveServerThread
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from redis import asyncio as aioredis

from api.logs import RedactingJsonFormatter
from api.request_context import RequestIdFilter
from config.asgi_handler import HopFreeASGIHandler
from musicbud.models import Artist, Track, User
from musicbud.services.taste import like_add
from tests.factories import DEFAULT_PASSWORD, ArtistFactory, TrackFactory, UserFactory

ROOT = Path(__file__).resolve().parents[1]
# Only what a subprocess needs to run; DATABASE_URL, REDIS_URL & co. must be passed explicitly.
_PASSED_THROUGH = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV"}


def subprocess_env(**env: str) -> dict[str, str]:
    """A clean environment for a child process (only what it needs to run) plus ``env``."""
    return {**{k: v for k, v in os.environ.items() if k in _PASSED_THROUGH}, **env}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a fresh interpreter with a clean environment plus ``env``."""
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@contextlib.contextmanager
def live_server_url() -> Iterator[str]:
    """The project served by Django's live-server thread on a free loopback port.

    The WSGI application is passed through as it is, so the project's own middleware
    (WhiteNoise for static files) serves everything, as in production.
    """

    def passthrough(app: Any) -> Any:
        return app

    server = LiveServerThread("127.0.0.1", passthrough)  # type: ignore[arg-type]
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.terminate()


def run_python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -c script`` in the project root with exactly ``env``; a failure raises."""
    return subprocess.run(  # noqa: S603 - our own interpreter and the tests' fixed scripts
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def require_service(name: str, reason: str) -> None:
    """A test that needs an unavailable service fails in CI and skips elsewhere, saying why."""
    message = f"{name} unavailable: {reason}"
    if settings.CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pools(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """psycopg pools outlive the tests that open them; close them before the test DB drops."""
    yield
    with django_db_blocker.unblock():
        for database in connections.all():
            close_pool = getattr(database, "close_pool", None)
            if close_pool is not None:
                close_pool()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def login(client: Client) -> Callable[..., dict[str, Any]]:
    """Log ``user`` in through the API and return the token pair body."""

    def _login(user: User, *, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, Any]:
        response = client.post(
            reverse("api-v1:auth-login"),
            {"username": user.username, "password": password, **extra},
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.OK, response.content
        body: dict[str, Any] = response.json()
        return body

    return _login


def bearer(token: str) -> dict[str, str]:
    """Request headers carrying ``token`` (for Client/AsyncClient ``headers=``)."""
    return {"Authorization": f"Bearer {token}"}


def assert_envelope(response: Any, status: int, code: str, message: str | None = None) -> Any:
    """The response is the error envelope for ``status`` and carries its request id."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] is True
    assert body["status_code"] == status
    assert body["code"] == code
    assert body["request_id"] == response["X-Request-ID"]
    assert set(body) - {"details"} == {
        "error",
        "message",
        "status_code",
        "request_id",
        "timestamp",
        "code",
    }
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert body["timestamp"].endswith("Z")
    assert "Traceback" not in response.content.decode()
    if message is not None:
        assert body["message"] == message
    return body


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every log line written while the test runs, through the configured JSON formatter."""
    formatter_config = settings.LOGGING["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        RedactingJsonFormatter(
            fmt=formatter_config["fmt"], rename_fields=formatter_config["rename_fields"]
        )
    )
    handler.addFilter(RequestIdFilter())
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("django")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
async def thread_connections_closed() -> AsyncIterator[None]:
    """For async tests using the ORM: return asgiref's worker-thread connection when done.

    Their queries run in that thread, whose connection nothing else closes; left open (and
    checked out of the pool) it would keep the test database from being dropped.
    """
    yield
    await sync_to_async(connections.close_all, thread_sensitive=True)()


@pytest.fixture
def api_client(user: User) -> Client:
    """A Django test client signed in (session) as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def thread_sensitive_hops(count_sync_hops: HopRecorder) -> list[str]:
    """The thread-sensitive ``sync_to_async`` calls (the expensive hop), by function name."""
    return count_sync_hops.thread_sensitive


@pytest.fixture
def auth_queries(api_client: Client) -> int:
    """Database queries the auth layer in front of every endpoint makes per request.

    Measured on a warm ``GET /me/profile``, whose own work makes no query (see
    tests/api/test_profile.py), so list tests can assert their exact count on top of it
    whichever auth class and session backend are in place.
    """
    url = reverse("api-v1:my-profile")
    api_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        api_client.get(url)
    return len(queries)


@dataclass
class BudWorld:
    """``me`` (the ``user`` fixture) and the people around them; see ``bud_world``."""

    me: User
    users: dict[str, User]
    tracks: dict[str, Track]
    artists: dict[str, Artist]


@pytest.fixture
def bud_world(user: User) -> BudWorld:
    """A small taste world, written through the taste services.

    ``me`` likes the popular ``hit``, two rare tracks and the artist ``band``. ``ana`` shares
    both rare tracks, ``ben`` the hit and the band, ``cat`` only the hit (which everybody
    likes), ``dan`` nothing, ``eve`` (inactive) a rare track.
    """
    tracks = {name: TrackFactory.create(name=name) for name in ("hit", "rare1", "rare2", "deep")}
    artists = {name: ArtistFactory.create(name=name) for name in ("band", "other")}
    users = {
        name: UserFactory.create(username=name, display_name=name.title())
        for name in ("ana", "ben", "cat", "dan", "eve")
    }
    users["eve"].is_active = False
    users["eve"].save(update_fields=["is_active"])
    likes = {
        "me": ["hit", "rare1", "rare2", "band"],
        "ana": ["rare1", "rare2", "deep"],
        "ben": ["hit", "band", "other"],
        "cat": ["hit"],
        "dan": ["deep", "other"],
        "eve": ["hit", "rare1"],
    }
    for name, items in likes.items():
        person = user if name == "me" else users[name]
        for item_name in items:
            if item_name in tracks:
                like_add(user=person, kind="track", item=tracks[item_name])
            else:
                like_add(user=person, kind="artist", item=artists[item_name])
    return BudWorld(me=user, users=users, tracks=tracks, artists=artists)


# --- ASGI: drive an ASGI application directly, count thread hops and queries ------------------


@dataclass
class AsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def asgi_request(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    chunks: Sequence[bytes] = (),
) -> AsgiResponse:
    """One HTTP request through an ASGI application, as a server would send it.

    ``chunks`` sends the body in several messages instead (a chunked upload).
    """
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    parts = list(chunks) or [body]
    for index, part in enumerate(parts):
        more = index < len(parts) - 1
        await incoming.put({"type": "http.request", "body": part, "more_body": more})
    response_done = asyncio.Event()
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming.empty():
            # Like a server: after the body, the next message is the disconnect, sent once
            # the response is complete.
            await response_done.wait()
            return {"type": "http.disconnect"}
        return await incoming.get()

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            response_done.set()

    await app(scope, receive, send)
    start = messages[0]
    assert start["type"] == "http.response.start"
    return AsgiResponse(
        status=start["status"],
        headers={k.decode().lower(): v.decode() for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in messages[1:]),
    )


@dataclass
class HopRecorder:
    """What ran off the event loop: thread-sensitive and thread-free hops, and SQL queries."""

    thread_sensitive: list[str] = field(default_factory=list)
    thread_free: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.thread_sensitive.clear()
        self.thread_free.clear()
        self.queries.clear()


@pytest.fixture
def count_sync_hops(monkeypatch: pytest.MonkeyPatch) -> HopRecorder:
    """Record every ``sync_to_async`` call (by function name) and every SQL query.

    Wraps asgiref's ``SyncToAsync.__call__`` (every sync_to_async call goes through it) and
    Django's cursor execution (every ORM/raw query, in any thread).
    """
    recorder = HopRecorder()
    original_call = SyncToAsync.__call__
    original_execute = CursorWrapper._execute_with_wrappers  # type: ignore[attr-defined]

    async def recording_call(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        # Never repr() the callable: a bound QuerySet method's repr runs the query.
        name = getattr(self.func, "__qualname__", None) or type(self.func).__qualname__
        if self._thread_sensitive:
            recorder.thread_sensitive.append(name)
        else:
            recorder.thread_free.append(name)
        return await original_call(self, *args, **kwargs)

    def recording_execute(self: CursorWrapper, sql: str, *args: Any, **kwargs: Any) -> Any:
        recorder.queries.append(sql)
        return original_execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", recording_call)
    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", recording_execute)
    return recorder


@pytest.fixture
def count_redis_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command ``redis.asyncio`` sends, by name, in order; a pipeline is one entry
    ``PIPELINE:<names>`` (it is one round trip)."""
    commands: list[str] = []
    original_execute = aioredis.Redis.execute_command
    original_pipeline = aioredis.client.Pipeline.execute

    async def recording_execute(self: aioredis.Redis, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]).upper())
        return await original_execute(self, *args, **options)

    async def recording_pipeline(self: aioredis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        names = ",".join(str(command[0][0]).upper() for command in self.command_stack)
        commands.append(f"PIPELINE:{names}")
        return await original_pipeline(self, *args, **kwargs)

    monkeypatch.setattr(aioredis.Redis, "execute_command", recording_execute)
    monkeypatch.setattr(aioredis.client.Pipeline, "execute", recording_pipeline)
    return commands


@pytest.fixture
async def hop_free_app() -> AsyncIterator[HopFreeASGIHandler]:
    """A fresh instance of the project's ASGI handler; its request threads retired after.

    Retiring a thread closes the connections it holds. The test's own ``sync_to_async``
    calls (factories) ran in asgiref's shared thread: its connection is handed back too, or
    it would keep the test database from being dropped.
    """
    app = HopFreeASGIHandler()
    yield app
    await app.thread_pool.close()
    await sync_to_async(connections.close_all, thread_sensitive=True)()
