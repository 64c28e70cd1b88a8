"""``fastpath.redis.SharedConnection``: many coroutines' commands on one Redis connection,
each given its own answer, on the machine's Redis and on a redis-server of the test's own
(frozen, restarted, gone)."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fastpath.redis import SharedConnection
from tests.api.test_redis_restart import OwnRedis
from tests.conftest import require_service
from tooling.ports import free_port


class Opened:
    """A pool's ``make_connection``, counting the connections opened (``connect``) of those
    it makes (one is made only to pack commands, never opened)."""

    def __init__(self, url: str) -> None:
        self.client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.count = 0

    def __call__(self) -> AbstractConnection:
        connection: AbstractConnection = self.client.connection_pool.make_connection()
        connect = connection.connect

        async def counted_connect() -> None:
            self.count += 1
            await connect()

        setattr(connection, "connect", counted_connect)  # noqa: B010 - an instance's method
        return connection


@pytest.fixture
async def machine_redis() -> AsyncIterator[tuple[SharedConnection, Opened, str]]:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")
    opened = Opened(str(settings.REDIS_URL))
    shared = SharedConnection(opened, timeout=2)
    prefix = f"shared-test:{uuid.uuid4().hex}:"
    yield shared, opened, prefix
    await shared.aclose()
    keys = await opened.client.keys(prefix + "*")
    if keys:
        await opened.client.delete(*keys)
    await opened.client.aclose()


@pytest.fixture
def own_server() -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server", "the redis-server binary is not installed")
    server = OwnRedis(str(binary), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_concurrent_commands_each_get_their_own_answer_on_one_connection(
    machine_redis: tuple[SharedConnection, Opened, str],
) -> None:
    shared, opened, prefix = machine_redis
    await opened.client.mset({f"{prefix}{n}": f"value-{n}" for n in range(300)})

    answers = await asyncio.gather(*(shared.execute("GET", f"{prefix}{n}") for n in range(300)))

    assert answers == [f"value-{n}".encode() for n in range(300)]
    assert opened.count == 1
    # A later batch reuses the connection.
    assert await shared.execute("INCRBY", f"{prefix}counter", 5) == 5
    assert opened.count == 1


async def test_an_error_answer_fails_its_command_only(
    machine_redis: tuple[SharedConnection, Opened, str],
) -> None:
    shared, opened, prefix = machine_redis
    await opened.client.set(f"{prefix}text", "not a number")

    outcomes: list[object] = await asyncio.gather(
        shared.execute("SET", f"{prefix}a", "1"),
        shared.execute("INCR", f"{prefix}text"),
        shared.execute("EVALSHA", "0" * 40, 0),
        shared.execute("INCR", f"{prefix}a"),
        return_exceptions=True,
    )
    before, failed, missing_script, after = outcomes

    assert before == b"OK"
    assert isinstance(failed, ResponseError)
    assert "not an integer" in str(failed)
    assert isinstance(missing_script, NoScriptError)
    assert after == 2
    assert opened.count == 1  # the connection was kept


async def test_a_cancelled_caller_does_not_shift_the_answers(
    machine_redis: tuple[SharedConnection, Opened, str],
) -> None:
    shared, opened, prefix = machine_redis
    await opened.client.mset({f"{prefix}x": "x", f"{prefix}y": "y", f"{prefix}z": "z"})

    first = asyncio.ensure_future(shared.execute("GET", f"{prefix}x"))
    second = asyncio.ensure_future(shared.execute("GET", f"{prefix}y"))
    third = asyncio.ensure_future(shared.execute("GET", f"{prefix}z"))
    await asyncio.sleep(0)  # all three queued
    second.cancel()

    assert await first == b"x"
    assert await third == b"z"
    assert second.cancelled()
    assert await shared.execute("GET", f"{prefix}y") == b"y"


async def test_a_frozen_server_fails_every_waiting_command_at_the_timeout(
    own_server: OwnRedis,
) -> None:
    opened = Opened(own_server.url)
    shared = SharedConnection(opened, timeout=0.4)
    assert await shared.execute("SET", "k", "1") == b"OK"
    own_server.pause()
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(shared.execute("GET", "k") for _ in range(5)), return_exceptions=True
        )
        waited = time.monotonic() - started
    finally:
        own_server.resume()

    assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes
    assert 0.35 <= waited < 2.0
    # The dropped connection is replaced on the next command.
    assert await shared.execute("GET", "k") == b"1"
    assert opened.count == 2
    await shared.aclose()
    await opened.client.aclose()


async def test_a_restarted_server_is_reached_again_on_a_new_connection(
    own_server: OwnRedis,
) -> None:
    opened = Opened(own_server.url)
    shared = SharedConnection(opened, timeout=2)
    assert await shared.execute("SET", "k", "before") == b"OK"

    await asyncio.to_thread(own_server.stop)
    await asyncio.to_thread(own_server.start)  # a new, empty server on the same port
    outcomes: list[object] = []
    for _ in range(3):
        try:
            outcomes.append(await shared.execute("GET", "k"))
            break
        except RedisConnectionError as error:  # the old connection's end, seen once
            outcomes.append(error)
            await asyncio.sleep(SharedConnection.RECONNECT_PAUSE)

    assert outcomes[-1] is None  # the new server has no "k"
    assert len(outcomes) <= 2
    await shared.aclose()
    await opened.client.aclose()


async def test_an_unreachable_server_fails_fast_and_is_not_retried_at_once() -> None:
    port = free_port()  # nothing listens there
    opened = Opened(f"redis://127.0.0.1:{port}/0")
    shared = SharedConnection(opened, timeout=1)

    with pytest.raises(RedisConnectionError):
        await shared.execute("PING")
    with pytest.raises(RedisConnectionError, match="unreachable a moment ago"):
        await shared.execute("PING")

    assert opened.count == 1  # the second command did not try to connect
    await opened.client.aclose()


async def test_closing_fails_what_waits_and_the_next_command_reconnects(
    machine_redis: tuple[SharedConnection, Opened, str],
) -> None:
    shared, opened, prefix = machine_redis
    assert await shared.execute("SET", f"{prefix}k", "v") == b"OK"
    waiting = asyncio.ensure_future(shared.execute("GET", f"{prefix}k"))
    await asyncio.sleep(0)
    await shared.aclose()

    with pytest.raises(RedisConnectionError, match="closed by the client"):
        await waiting
    assert await shared.execute("GET", f"{prefix}k") == b"v"
    assert opened.count == 2


async def test_closing_during_a_connect_leaves_nothing_running(
    machine_redis: tuple[SharedConnection, Opened, str],
) -> None:
    shared, opened, _ = machine_redis
    readers_before = _readers()  # other tests' connections on this loop
    pending = asyncio.ensure_future(shared.execute("PING"))
    await asyncio.sleep(0)  # its connect is under way

    await shared.aclose()  # waits for the connect, then closes what it opened

    with pytest.raises(RedisConnectionError, match="closed by the client"):
        await pending
    assert opened.count == 1
    assert _readers() - readers_before == set()


def _readers() -> set[asyncio.Task[object]]:
    """The running reader tasks of shared connections on this loop."""
    return {
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "SharedConnection._read"
    }
