"""Friend requests reach the other person live, as events on the chat socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from musicbud.chat.tickets import chat_ticket_issue
from musicbud.models import User
from musicbud.relationships.services.friends import friend_request_accept, friend_request_send
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

TIMEOUT = 5


async def _socket(user: User) -> WebsocketCommunicator:
    ticket = await chat_ticket_issue(user=user, family_id=None, session_key=None)
    socket = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    return socket


async def test_a_request_and_its_acceptance_arrive_live() -> None:
    ana = await sync_to_async(UserFactory.create)(username="ana")
    ben = await sync_to_async(UserFactory.create)(username="ben")
    ana_socket, ben_socket = await _socket(ana), await _socket(ben)
    try:
        sent = await friend_request_send(user=ana, username="ben")
        received = await ben_socket.receive_json_from(timeout=TIMEOUT)
        assert received["type"] == "friend_request"
        assert received["action"] == "received"
        assert received["request"]["id"] == str(sent.request.id)
        assert received["request"]["from"]["username"] == "ana"
        assert received["request"]["status"] == "pending"
        assert await ana_socket.receive_nothing(timeout=0.3)

        await friend_request_accept(user=ben, request_id=sent.request.id)
        for socket in (ana_socket, ben_socket):
            accepted = await socket.receive_json_from(timeout=TIMEOUT)
            assert (accepted["action"], accepted["request"]["status"]) == ("accepted", "accepted")
    finally:
        await ana_socket.disconnect()
        await ben_socket.disconnect()
