"""A database that cannot be reached is a 503 to retry, promptly, never a 500 after a hang."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import require_service
from tests.fixtures.processes import ROOT, run_manage, subprocess_env
from tooling.postgres import PostgresServer, postgres_binaries

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
ACCOUNT = {"username": "outage", "email": "outage@example.org", "password": "a-long-phrase-43x"}
CREDENTIALS = {"username": ACCOUNT["username"], "password": ACCOUNT["password"]}
# Shorter than the defaults (3 s each) to keep the suite quick; the app must honour them.
POOL_TIMEOUT_SECONDS = 1
CONNECT_TIMEOUT_SECONDS = 1
# What an answer may take beyond the pool's wait on two shared cores (the bug took 10 s+).
SLACK_SECONDS = 4.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def call(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    try:
        connection.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return Answer(
        status=response.status,
        headers={name.lower(): value for name, value in response.getheaders()},
        body=json.loads(raw) if raw else None,
        seconds=time.perf_counter() - started,
    )


@contextlib.contextmanager
def serving(database_url: str) -> Iterator[int]:
    """The project under uvicorn on a free loopback port (its socket handed over, no race):
    the ASGI entry point, as in production."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--fd", str(listener.fileno()),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        # DEBUG on: the debug page must not be what answers (nor re-run failing queries).
        env=subprocess_env(
            DATABASE_URL=database_url,
            ENVIRONMENT="test",
            DEBUG="true",
            DB_POOL_TIMEOUT_SECONDS=str(POOL_TIMEOUT_SECONDS),
            DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT_SECONDS),
        ),
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    listener.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if call(port, "GET", "/health/live").status == 200:
                    break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield port
    finally:
        # Its shutdown would wait on pool workers still trying to connect; nothing to keep.
        server.kill()
        server.wait(timeout=30)


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer.body
    assert answer.headers["retry-after"] == "5"
    assert answer.body["error"] is True
    assert answer.body["status_code"] == 503
    assert answer.body["code"] == "service_unavailable"
    assert answer.body["message"] == "A backing service is unavailable; try again shortly"
    assert answer.body["request_id"] == answer.headers["x-request-id"]
    # Within the pool's wait (DB_POOL_TIMEOUT_SECONDS), not the old 10 s and a 500.
    assert answer.seconds < POOL_TIMEOUT_SECONDS + SLACK_SECONDS, answer.seconds


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A migrated PostgreSQL server of the test's own (never the machine's), to stop under the
    running app and start again."""
    binaries = postgres_binaries()
    if binaries is None:
        require_service("PostgreSQL binaries", "no initdb / pg_ctl on this machine")
    assert binaries is not None
    server = PostgresServer(binaries)
    try:
        server.start()
        migrated = run_manage("migrate", "--noinput", DATABASE_URL=server.url, ENVIRONMENT="test")
        assert migrated.returncode == 0, migrated.stderr
        yield server
    finally:
        server.remove()


def test_a_stopped_database_is_a_503_to_retry_and_the_app_recovers(
    postgres: PostgresServer,
) -> None:
    with serving(postgres.url) as port:
        assert call(port, "POST", REGISTER, ACCOUNT).status == 201
        assert call(port, "POST", LOGIN, CREDENTIALS).status == 200

        postgres.stop()
        try:
            login = call(port, "POST", LOGIN, CREDENTIALS)
            register = call(port, "POST", REGISTER, {**ACCOUNT, "username": "second"})
            ready = call(port, "GET", "/health/ready")
        finally:
            postgres.start()

        assert_unavailable(login)
        assert_unavailable(register)
        assert ready.status == 503
        assert ready.body["details"]["components"]["database"]["status"] == "down"
        # Back up: the pool reconnects on its own (with backoff), no restart of the app.
        deadline = time.monotonic() + 60
        while (probe := call(port, "GET", "/health/ready")).status != 200:
            assert probe.body["details"]["components"]["database"]["status"] == "down"
            assert time.monotonic() < deadline, "the app did not recover"
            time.sleep(0.5)
        answer = call(port, "POST", LOGIN, CREDENTIALS)
        assert answer.status == 200, answer.body
        assert set(answer.body) >= {"access_token", "refresh_token"}


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never says a word (a firewalled or hung host)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def test_a_database_that_never_answers_is_a_503_not_a_hang() -> None:
    with blackhole() as silent, serving(f"postgres://postgres@127.0.0.1:{silent}/x") as port:
        login = call(port, "POST", LOGIN, CREDENTIALS)
        ready = call(port, "GET", "/health/ready")

    assert_unavailable(login)
    assert ready.status == 503
    assert ready.body["details"]["components"]["database"] == {
        "status": "down",
        "error": "OperationalError",  # no pooled connection within the pool's wait
        "latency_ms": ready.body["details"]["components"]["database"]["latency_ms"],
    }
