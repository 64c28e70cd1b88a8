"""Chat sockets around a Redis outage, on a redis-server of the test's own (never the
machine's) that is stopped and started: 1013 where Redis is needed, ``resync`` after it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import shutil
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings
from redis.exceptions import RedisError

from api.chat import layer_watch
from config.asgi import application
from musicbud.cache import close_redis_clients
from musicbud.chat.services.channels import chat_channel_create
from musicbud.chat.services.messages import chat_message_post
from musicbud.chat.tickets import chat_ticket_issue
from musicbud.services.tokens import access_token_decode, token_pair_issue
from tests.api.test_redis_restart import OwnRedis
from tests.conftest import require_service
from tooling.ports import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

TIMEOUT = 5


@pytest.fixture
async def outage_redis(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OwnRedis]:
    """Cache, rate limits, tickets and the channel layer all on one own redis-server. The
    layer is flushed at the end: its receive task would otherwise keep reconnecting (and
    logging errors) to the stopped server for the rest of the run."""
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server", "the redis-server binary is not installed")
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set (the Redis channel layer is tested)")
    monkeypatch.setattr(layer_watch, "LAYER_PROBE_SECONDS", 0.2)
    monkeypatch.setattr(layer_watch, "LAYER_PROBE_TIMEOUT_SECONDS", 0.5)
    server = OwnRedis(str(binary), free_port())
    server.start()
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = server.url
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [server.url]
    layers["default"]["CONFIG"]["prefix"] = f"outage.{urlsplit(server.url).port}."
    try:
        with override_settings(REDIS_URL=server.url, CACHES=caches, CHANNEL_LAYERS=layers):
            try:
                yield server
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await get_channel_layer().flush()
                await close_redis_clients()
    finally:
        server.stop()


async def _open(path: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


async def _close_code(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    code: int = output["code"]
    return code


async def test_a_socket_opened_while_redis_is_down_is_accepted_and_closed_1013(
    outage_redis: OwnRedis, people
) -> None:
    ticket = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    await asyncio.to_thread(outage_redis.stop)

    socket = await _open(f"/ws/chat/?ticket={ticket}")

    assert await _close_code(socket) == 1013


async def test_a_frame_that_meets_redis_down_closes_the_socket_1013(
    outage_redis: OwnRedis, people
) -> None:
    pair = await token_pair_issue(user=people["ana"])
    family_id = access_token_decode(token=pair.access_token).family_id
    ticket = await chat_ticket_issue(user=people["ana"], family_id=family_id, session_key=None)
    socket = await _open(f"/ws/chat/?ticket={ticket}")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    await asyncio.to_thread(outage_redis.stop)

    # The re-check before a send reads the login's state from Redis.
    await socket.send_json_to({"type": "send", "conversation": "ben", "content": "hi"})

    assert await _close_code(socket) == 1013
    await socket.disconnect()


async def test_open_sockets_are_told_to_resync_when_redis_returns(
    outage_redis: OwnRedis, people
) -> None:
    channel = await chat_channel_create(
        user=people["ana"], name="jazz", description="", visibility="public"
    )
    ticket = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    socket = await _open(f"/ws/chat/?ticket={ticket}")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "hello"

    await asyncio.to_thread(outage_redis.stop)
    await asyncio.sleep(1)  # probes fail meanwhile
    # Stored while the layer is down: the publish fails (logged), a resume finds it.
    lost = await chat_message_post(user=people["ana"], channel_id=channel.id, content="lost")
    await asyncio.to_thread(outage_redis.start)

    resync = await socket.receive_json_from(timeout=TIMEOUT)
    await socket.send_json_to({"type": "resume", "after": None})
    resumed = [await socket.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
    after = await chat_message_post(user=people["ana"], channel_id=channel.id, content="after")
    delivered = await socket.receive_json_from(timeout=TIMEOUT)

    assert resync == {"type": "resync"}
    assert resumed[0]["message"]["id"] == str(lost.message.public_id)
    assert (resumed[1]["type"], resumed[1]["count"]) == ("resumed", 1)
    assert delivered["message"]["id"] == str(after.message.public_id)
    await socket.disconnect()
