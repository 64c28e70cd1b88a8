"""End to end through the production server: gunicorn with two uvicorn workers, a message
posted over REST on one worker reaches a socket held by the other (through Redis)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from musicbud.models import User
from tests.conftest import require_service
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.processes import ROOT, database_url
from tooling.benchmark.server import HOP_FREE_APP, Server, start_server
from tooling.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is unset; workers share chat events through Redis")
    running = start_server(
        app=HOP_FREE_APP,
        host=HOST,
        port=free_port(),
        workers=2,
        log_path=tmp_path / "server.log",
        app_env={
            "DATABASE_URL": database_url(),
            "REDIS_URL": str(settings.REDIS_URL),
            "ALLOWED_HOSTS": HOST,
            "RATE_LIMIT_PER_MINUTE": "100000",
            "RATE_LIMIT_STRICT_PER_MINUTE": "100000",
            "RATE_LIMIT_CLIENT_PER_MINUTE": "100000",
            "WEB_CONCURRENCY": "2",
        },
    )
    try:
        yield running
    finally:
        running.stop()


def worker_holding(server: Server, client: socket.socket) -> int:
    """The pid of the worker holding the server side of ``client``'s TCP connection."""
    client_port = client.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_port == server.port and remote_port == client_port:
            inode = fields[9]
    assert inode is not None
    for pid in server.worker_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if fd.readlink().name == f"socket:[{inode}]":
                    return pid
            except OSError:  # closed meanwhile
                continue
    raise AssertionError(f"no worker holds client port {client_port}")


class Api:
    """One keep-alive HTTP connection (reopened if the server closed it while idle)."""

    def __init__(self, server: Server, stack: ExitStack) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        stack.callback(self.connection.close)
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.connection.request(method, path, json.dumps(body or {}), headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.connection.close()  # the keep-alive ran out: once more on a new connection
            self.connection.request(method, path, json.dumps(body or {}), headers)
            response = self.connection.getresponse()
        payload = json.loads(response.read())
        assert response.status < 300, payload
        return payload

    def login(self, user: User) -> Api:
        body = {"username": user.username, "password": DEFAULT_PASSWORD}
        self.token = self.call("POST", "/api/v1/auth/login", body)["access_token"]
        return self


def open_socket(server: Server, api: Api, sockets: ExitStack) -> ClientConnection:
    ticket = api.call("POST", "/api/v1/chat/ticket")["ticket"]
    url = f"ws://{server.host}:{server.port}/ws/chat/?ticket={ticket}"
    ws = sockets.enter_context(connect(url, open_timeout=10))
    # The production worker turns compression off (memory per idle socket).
    assert ws.response is not None
    assert "Sec-WebSocket-Extensions" not in ws.response.headers
    assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    return ws


def test_a_rest_post_on_one_worker_reaches_a_socket_on_the_other(server: Server) -> None:
    ana, ben = UserFactory.create(username="ana"), UserFactory.create(username="ben")
    with ExitStack() as stack:
        ana_api, ben_api = Api(server, stack).login(ana), Api(server, stack).login(ben)
        channel = ana_api.call("POST", "/api/v1/chat/channels", {"name": "jazz"})
        ben_api.call("POST", f"/api/v1/chat/channels/{channel['id']}/join")
        opened: list[ClientConnection] = []
        sockets: dict[int, ClientConnection] = {}
        for _ in range(20):  # the kernel spreads connections over the workers: until both hold one
            opened.append(open_socket(server, ben_api, stack))
            sockets.setdefault(worker_holding(server, opened[-1].socket), opened[-1])
            if len(sockets) == 2:
                break

        posted = ana_api.call(
            "POST", f"/api/v1/chat/channels/{channel['id']}/messages", {"content": "across"}
        )
        # The connection that carried the post is still open (keep-alive): its worker posted.
        poster = worker_holding(server, ana_api.connection.sock)

        assert set(sockets) == set(server.worker_pids())
        other = next(pid for pid in sockets if pid != poster)
        for ws in opened:
            assert json.loads(ws.recv(timeout=10)) == {"type": "message", "message": posted}
        with pytest.raises(TimeoutError):
            sockets[other].recv(timeout=0.5)  # delivered once


def closing_code(url: str) -> int:
    with connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_runserver_serves_the_websocket_too(tmp_path: Path) -> None:
    """``make run``'s server (channels' runserver, daphne) speaks WebSocket on the same app."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name in {"PATH", "HOME", "LANG"}}
    with (tmp_path / "runserver.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our interpreter and manage.py
            [sys.executable, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/health/live", timeout=2) as r:
                    assert r.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "runserver.log").read_text()
                time.sleep(0.25)

        assert closing_code(f"ws://{HOST}:{port}/ws/chat/?ticket=not-a-ticket") == 4401
        assert closing_code(f"ws://{HOST}:{port}/ws/elsewhere/") == 4404
    finally:
        process.terminate()
        process.wait(timeout=20)
