"""A Redis restart: once the server answers again, no request gets a 503."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from musicbud.cache import close_redis_clients
from tests.conftest import require_service
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.asgi import asgi_request
from tooling.ports import free_port

CONCURRENT = 8


class OwnRedis:
    """A throwaway redis-server on loopback that keeps nothing on disk, on a free port of its
    own (never the machine's server)."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self.process = subprocess.Popen(  # noqa: S603 - the machine's redis-server, fixed args
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis.from_url(self.url, socket_timeout=0.5) as probe:
                    if probe.ping():
                        return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot exit
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server", "the redis-server binary is not installed")
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set (the Redis cache settings are tested)")
    server = OwnRedis(str(binary), free_port())
    server.start()
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = server.url
    try:
        with override_settings(REDIS_URL=server.url, CACHES=caches, RATE_LIMIT_PER_MINUTE=10_000):
            yield server
    finally:
        server.stop()


async def _login(app: Any, username: str) -> list[tuple[str, str]]:
    response = await asgi_request(
        app,
        reverse("api-v1:auth-login"),
        method="POST",
        headers=[("content-type", "application/json")],
        body=json.dumps({"username": username, "password": DEFAULT_PASSWORD}).encode(),
    )
    assert response.status == HTTPStatus.OK, response.body
    return [("authorization", f"Bearer {response.json()['access_token']}")]


async def _burst(app: Any, headers: list[tuple[str, str]]) -> list[int]:
    """CONCURRENT reads at once, so the pool holds (and later reuses) that many connections."""
    url = reverse("api-v1:my-profile")
    responses = await asyncio.gather(
        *(asgi_request(app, url, headers=headers) for _ in range(CONCURRENT))
    )
    return [response.status for response in responses]


@pytest.mark.django_db(transaction=True)
async def test_no_503_once_a_restarted_redis_answers(own_redis: OwnRedis, project_app: Any) -> None:
    """Pooled connections opened before the restart are dead afterwards. Both clients
    (django-redis and redis.asyncio) health-check idle connections and send a command that
    meets a dead one again on a new connection, so the first requests after it do not fail."""
    user = await sync_to_async(UserFactory.create)()
    headers = await _login(project_app, user.username)
    before = [status for _ in range(3) for status in await _burst(project_app, headers)]
    await sync_to_async(cache.set)("restart-probe", 1)  # django-redis's pool is in use too

    await asyncio.to_thread(own_redis.stop)
    await asyncio.to_thread(own_redis.start)  # returns once the new server answers PING

    # The new server kept nothing: the old token's family is gone, so log in again.
    headers = await _login(project_app, user.username)
    after = [status for _ in range(5) for status in await _burst(project_app, headers)]
    probe_after = await sync_to_async(cache.get)("restart-probe", "gone")
    await sync_to_async(cache.set)("restart-probe", 2)

    assert before == [HTTPStatus.OK] * (3 * CONCURRENT)
    assert after == [HTTPStatus.OK] * (5 * CONCURRENT)
    assert probe_after == "gone"  # read through the old pool's dead connection, retried
    assert await sync_to_async(cache.get)("restart-probe") == 2
    await close_redis_clients()
