"""An account deleted, suspended or reset closes its open chat sockets at once, not at the
next periodic check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from musicbud.accounts.deletion import account_erase
from musicbud.accounts.moderation import account_suspend
from musicbud.chat.tickets import chat_ticket_issue
from musicbud.models import User
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

TIMEOUT = 5
Opener = Callable[[User], Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def open_socket() -> AsyncIterator[Opener]:
    sockets: list[WebsocketCommunicator] = []

    async def _open(user: User) -> WebsocketCommunicator:
        ticket = await chat_ticket_issue(user=user, family_id=None, session_key=None)
        socket = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
        sockets.append(socket)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
        return socket

    yield _open
    for socket in sockets:
        await socket.disconnect()


async def closed_with(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    code: int = output["code"]
    return code


async def test_deletion_and_suspension_close_open_sockets_at_once(
    open_socket: Opener, settings: Any
) -> None:
    # Far beyond the test's timeout: only the immediate re-check can close them in time.
    settings.CHAT_SESSION_CHECK_SECONDS = 600
    deleted, suspended, kept = await sync_to_async(
        lambda: [UserFactory.create(username=name) for name in ("gone", "held", "kept")]
    )()
    deleted_socket = await open_socket(deleted)
    suspended_socket = await open_socket(suspended)
    kept_socket = await open_socket(kept)

    await sync_to_async(account_erase)(user_id=deleted.pk)
    await sync_to_async(account_suspend)(user_id=suspended.pk, staff_id=None)

    assert await closed_with(deleted_socket) == 4401
    assert await closed_with(suspended_socket) == 4401
    assert await kept_socket.receive_nothing(timeout=0.3)
