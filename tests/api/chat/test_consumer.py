"""The chat socket through channels' WebsocketCommunicator and the project's ASGI application,
on the configured channel layer (Redis pub/sub when REDIS_URL is set, as in CI)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import import_module
from typing import Any
from uuid import UUID

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase

from config.asgi import application
from musicbud.cache import async_cache
from musicbud.chat.fanout import message_payload
from musicbud.chat.models import Message
from musicbud.chat.services.blocks import chat_block_add
from musicbud.chat.services.channels import chat_channel_create
from musicbud.chat.services.membership import chat_channel_join
from musicbud.chat.services.messages import chat_message_delete, chat_message_post
from musicbud.chat.services.moderation import chat_member_moderate
from musicbud.chat.tickets import _ticket_key, chat_ticket_issue
from musicbud.models import User
from musicbud.services.tokens import access_token_decode, token_family_revoke, token_pair_issue
from tests.conftest import require_service
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

TIMEOUT = 5


@pytest.fixture(autouse=True)
def _layer_is_redis_when_configured() -> None:
    layer = get_channel_layer()
    if settings.REDIS_URL:
        assert type(layer).__name__ == "RedisPubSubChannelLayer"
    elif settings.CI:
        require_service("Redis", "the chat socket tests run on the Redis channel layer in CI")


Opener = Callable[..., Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def open_socket() -> AsyncIterator[Opener]:
    """Open an authenticated socket (a fresh ticket) and read its hello; all close at the end."""
    sockets: list[WebsocketCommunicator] = []

    async def _open(user: User, *, family_id: str | None = None) -> WebsocketCommunicator:
        ticket = await chat_ticket_issue(user=user, family_id=family_id, session_key=None)
        socket = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
        sockets.append(socket)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        hello = await socket.receive_json_from(timeout=TIMEOUT)
        assert hello["type"] == "hello"
        assert hello["user"]["username"] == user.username
        return socket

    yield _open
    for socket in sockets:
        await socket.disconnect()


async def closed_with(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    code: int = output["code"]
    return code


async def frames(socket: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await socket.receive_json_from(timeout=TIMEOUT) for _ in range(count)]


async def silent(socket: WebsocketCommunicator) -> bool:
    return bool(await socket.receive_nothing(timeout=0.3))


async def jazz_with(people: dict[str, User], *members: str) -> UUID:
    channel = await chat_channel_create(
        user=people["ana"], name="jazz", description="", visibility="public"
    )
    for name in members:
        await chat_channel_join(user=people[name], channel_id=channel.id)
    return channel.id


# --- opening --------------------------------------------------------------------------------


async def raw_socket(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    return socket, connected


async def test_no_bad_reused_or_expired_ticket_is_closed_4401(people) -> None:
    used = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    first, _ = await raw_socket(f"/ws/chat/?ticket={used}")
    assert (await first.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    expiring = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    await async_cache.expire(_ticket_key(expiring), 1)
    await asyncio.sleep(1.2)

    for path in (
        "/ws/chat/",
        "/ws/chat/?ticket=",
        "/ws/chat/?ticket=not-a-ticket",
        f"/ws/chat/?ticket={used}",
        f"/ws/chat/?ticket={expiring}",
        f"/ws/chat/?ticket={used}&ticket={used}",
    ):
        socket, connected = await raw_socket(path)
        assert connected
        assert await closed_with(socket) == 4401, path
        await socket.disconnect()
    await first.disconnect()


async def test_a_ticket_of_a_deactivated_user_is_refused(people) -> None:
    ticket = await chat_ticket_issue(user=people["ben"], family_id=None, session_key=None)
    people["ben"].is_active = False
    await sync_to_async(people["ben"].save)(update_fields=["is_active"])

    socket, _ = await raw_socket(f"/ws/chat/?ticket={ticket}")

    assert await closed_with(socket) == 4401


async def test_other_paths_are_closed_4404(people) -> None:
    socket, connected = await raw_socket("/ws/other/")

    assert connected
    assert await closed_with(socket) == 4404


async def _session_cookie(user: User) -> bytes:
    engine = import_module(settings.SESSION_ENGINE)
    session: SessionBase = engine.SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    await session.asave()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


async def test_the_session_cookie_opens_a_socket_from_an_allowed_origin_only(people) -> None:
    cookie = await _session_cookie(people["ana"])

    same_origin, _ = await raw_socket(
        "/ws/chat/",
        [(b"cookie", cookie), (b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    foreign, _ = await raw_socket(
        "/ws/chat/",
        [(b"cookie", cookie), (b"origin", b"https://evil.example"), (b"host", b"testserver")],
    )
    no_origin, _ = await raw_socket("/ws/chat/", [(b"cookie", cookie), (b"host", b"testserver")])

    assert (await same_origin.receive_json_from(timeout=TIMEOUT))["user"]["username"] == "ana"
    assert await closed_with(foreign) == 4401
    assert await closed_with(no_origin) == 4401
    await same_origin.disconnect()


# --- delivery -------------------------------------------------------------------------------


async def test_a_send_is_stored_acked_and_delivered_once(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben")
    ana, ben = await open_socket(people["ana"]), await open_socket(people["ben"])
    frame = {"type": "send", "channel": str(channel_id), "content": " hello ", "client_id": "a-1"}

    await ana.send_json_to(frame)
    ack, own_copy = await frames(ana, 2)
    delivered = await ben.receive_json_from(timeout=TIMEOUT)
    await ana.send_json_to(frame)
    replay_ack = await ana.receive_json_from(timeout=TIMEOUT)

    stored = await Message.objects.aget(client_id="a-1")
    expected = {
        "id": str(stored.public_id),
        "channel": str(channel_id),
        "conversation": None,
        "author": {"username": "ana", "display_name": "Ana"},
        "content": "hello",
        "created_at": stored.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    assert ack == {"type": "ack", "client_id": "a-1", "created": True, "message": expected}
    assert own_copy == delivered == {"type": "message", "message": expected}
    assert replay_ack == {**ack, "created": False}
    assert await silent(ben)
    assert await Message.objects.acount() == 1


async def test_direct_messages_reach_both_people_only(people, open_socket) -> None:
    ana, ben, cat = [await open_socket(people[name]) for name in ("ana", "ben", "cat")]

    await ana.send_json_to({"type": "send", "conversation": "ben", "content": "psst"})
    ack, own_copy = await frames(ana, 2)
    delivered = await ben.receive_json_from(timeout=TIMEOUT)

    assert ack["message"]["conversation"] is not None
    assert delivered == own_copy == {"type": "message", "message": ack["message"]}
    assert await silent(cat)


async def test_rest_posts_and_deletes_reach_open_sockets(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben")
    ben = await open_socket(people["ben"])

    posted = await chat_message_post(user=people["ana"], channel_id=channel_id, content="hi")
    await chat_message_delete(user=people["ana"], message_id=posted.message.public_id)

    assert await frames(ben, 2) == [
        {"type": "message", "message": message_payload(posted.message)},
        {
            "type": "message_deleted",
            "id": str(posted.message.public_id),
            "channel": str(channel_id),
            "conversation": None,
        },
    ]


async def test_kicked_and_banned_members_stop_receiving_at_once(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben", "cat")
    ben, cat = await open_socket(people["ben"]), await open_socket(people["cat"])

    await chat_member_moderate(
        user=people["ana"], channel_id=channel_id, username="ben", action="kick"
    )
    await chat_member_moderate(
        user=people["ana"], channel_id=channel_id, username="cat", action="ban"
    )
    kicked = await ben.receive_json_from(timeout=TIMEOUT)
    ben_kicked_seen_by_cat, banned = await frames(cat, 2)
    await chat_message_post(user=people["ana"], channel_id=channel_id, content="after")
    await ben.send_json_to({"type": "typing", "channel": str(channel_id)})
    typing_refused = await ben.receive_json_from(timeout=TIMEOUT)

    assert (kicked["type"], kicked["action"], kicked["user"]["username"]) == (
        "member",
        "kicked",
        "ben",
    )
    assert ben_kicked_seen_by_cat == kicked
    assert (banned["action"], banned["state"], banned["user"]["username"]) == (
        "banned",
        "banned",
        "cat",
    )
    assert typing_refused["code"] == "not_a_member"
    assert await silent(ben)
    assert await silent(cat)


async def test_joining_subscribes_an_open_socket(people, open_socket) -> None:
    channel_id = await jazz_with(people)
    cat = await open_socket(people["cat"])

    await chat_channel_join(user=people["cat"], channel_id=channel_id)
    joined = await cat.receive_json_from(timeout=TIMEOUT)
    await chat_message_post(user=people["ana"], channel_id=channel_id, content="welcome")

    assert (joined["action"], joined["channel"]) == ("joined", str(channel_id))
    assert (await cat.receive_json_from(timeout=TIMEOUT))["message"]["content"] == "welcome"


async def test_blocked_authors_never_reach_the_blocker(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben", "cat")
    ana, cat = await open_socket(people["ana"]), await open_socket(people["cat"])
    ben = await open_socket(people["ben"])

    await chat_block_add(user=people["ana"], username="ben")
    await ben.send_json_to({"type": "send", "channel": str(channel_id), "content": "hi all"})
    await frames(ben, 2)
    await ben.send_json_to(
        {"type": "send", "conversation": "ana", "content": "hi ana", "client_id": "x"}
    )
    refused = await ben.receive_json_from(timeout=TIMEOUT)

    assert (await cat.receive_json_from(timeout=TIMEOUT))["message"]["content"] == "hi all"
    assert refused == {  # as for an unknown user: a block is never revealed
        "type": "error",
        "code": "user_not_found",
        "message": "No user named 'ana'",
        "status_code": 404,
        "client_id": "x",
    }
    assert await silent(ana)


# --- client frames ----------------------------------------------------------------------------


async def test_malformed_frames_get_errors_and_disturb_nobody(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben")
    ana, ben = await open_socket(people["ana"]), await open_socket(people["ben"])
    bad = [
        "not json",
        "[]",
        json.dumps({"type": "dance"}),
        json.dumps({"type": "send", "content": "where?"}),
        json.dumps(
            {"type": "send", "channel": str(channel_id), "conversation": "ben", "content": "x"}
        ),
        json.dumps({"type": "send", "channel": 5, "content": "x"}),
        json.dumps({"type": "resume", "after": "not-an-id"}),
        json.dumps({"type": "send", "channel": str(channel_id), "content": "x" * 40_000}),
    ]

    for text in bad:
        await ana.send_to(text_data=text)
    await ana.send_to(bytes_data=b"\x00\x01")
    await ana.send_json_to({"type": "send", "channel": str(channel_id), "content": "   "})
    await ana.send_json_to({"type": "send", "channel": str(uuid.uuid4()), "content": "lost"})
    errors = await frames(ana, len(bad) + 3)
    await ana.send_json_to({"type": "send", "channel": str(channel_id), "content": "still here"})

    assert [error["type"] for error in errors] == ["error"] * len(errors)
    assert [error["code"] for error in errors] == [
        *["invalid_frame"] * (len(bad) - 1),
        "frame_too_large",
        "invalid_frame",
        "validation_error",
        "channel_not_found",
    ]
    assert (await ana.receive_json_from(timeout=TIMEOUT))["type"] == "ack"
    assert (await ben.receive_json_from(timeout=TIMEOUT))["message"]["content"] == "still here"
    assert await Message.objects.acount() == 1


async def test_sends_are_rate_limited_per_user(people, open_socket, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 3
    channel_id = await jazz_with(people)
    ana = await open_socket(people["ana"])

    for index in range(4):
        await ana.send_json_to(
            {
                "type": "send",
                "channel": str(channel_id),
                "content": str(index),
                "client_id": f"r{index}",
            }
        )
    replies = await frames(ana, 7)

    limited = [reply for reply in replies if reply["type"] == "error"]
    assert len(limited) == 1
    assert (limited[0]["code"], limited[0]["client_id"]) == ("rate_limited", "r3")
    assert limited[0]["retry_after"] >= 1
    assert await Message.objects.acount() == 3


async def test_typing_and_read_frames(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben")
    ana, ben = await open_socket(people["ana"]), await open_socket(people["ben"])
    posted = await chat_message_post(user=people["ana"], channel_id=channel_id, content="one")
    await chat_message_post(user=people["ana"], channel_id=channel_id, content="two")
    await frames(ben, 2)
    await frames(ana, 2)

    await ben.send_json_to({"type": "typing", "channel": str(channel_id)})
    typing = await ana.receive_json_from(timeout=TIMEOUT)
    await ben.send_json_to(
        {"type": "read", "channel": str(channel_id), "message_id": str(posted.message.public_id)}
    )
    read = await ben.receive_json_from(timeout=TIMEOUT)

    assert typing == {
        "type": "typing",
        "user": {"username": "ben", "display_name": "Ben"},
        "channel": str(channel_id),
        "conversation": None,
    }
    assert read == {
        "type": "read",
        "channel": str(channel_id),
        "conversation": None,
        "message_id": str(posted.message.public_id),
        "unread": 1,
    }
    assert await silent(ben)  # one's own typing is not echoed


async def test_resume_sends_what_was_missed_in_order(people, open_socket) -> None:
    channel_id = await jazz_with(people, "ben")
    seen = await chat_message_post(user=people["ana"], channel_id=channel_id, content="seen")
    for content in ("one", "two"):
        await chat_message_post(user=people["ana"], channel_id=channel_id, content=content)
    await chat_message_post(user=people["cat"], username="ben", content="three")
    ben = await open_socket(people["ben"])

    await ben.send_json_to({"type": "resume", "after": str(seen.message.public_id)})
    missed = await frames(ben, 4)

    assert [frame["message"]["content"] for frame in missed[:3]] == ["one", "two", "three"]
    assert missed[3] == {
        "type": "resumed",
        "after": str(seen.message.public_id),
        "count": 3,
        "last": missed[2]["message"]["id"],
        "more": False,
    }


# --- staying signed in ------------------------------------------------------------------------


async def test_a_revoked_login_or_a_deactivated_user_is_disconnected(
    people, open_socket, settings
) -> None:
    settings.CHAT_SESSION_CHECK_SECONDS = 0.1
    pair = await token_pair_issue(user=people["ana"])
    family_id = access_token_decode(token=pair.access_token).family_id
    revoked = await open_socket(people["ana"], family_id=family_id)
    deactivated = await open_socket(people["ben"])
    kept = await open_socket(people["cat"])

    await token_family_revoke(family_id=family_id)
    people["ben"].is_active = False
    await sync_to_async(people["ben"].save)(update_fields=["is_active"])

    assert await closed_with(revoked) == 4401
    assert await closed_with(deactivated) == 4401
    assert await silent(kept)


async def _session_socket(user: User) -> WebsocketCommunicator:
    socket, _ = await raw_socket(
        "/ws/chat/",
        [
            (b"cookie", await _session_cookie(user)),
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
        ],
    )
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    return socket


async def test_every_way_a_password_or_account_ends_closes_the_socket(
    people, open_socket, settings
) -> None:
    settings.CHAT_SESSION_CHECK_SECONDS = 0.1
    dan = people["dan"]
    eve, fay = await sync_to_async(lambda: [UserFactory.create(username=n) for n in "ef"])()
    by_cookie = await _session_socket(people["ana"])  # the session row stays; the hash moves
    by_ticket = await open_socket(people["ben"])
    updated = await open_socket(dan)
    deactivated = await open_socket(eve)
    deleted = await open_socket(fay)
    kept = await open_socket(people["cat"])

    # set_password + save, as the API, the admin form and ``changepassword`` all do.
    for person in (people["ana"], people["ben"]):
        await sync_to_async(person.set_password)("a-new-password-1")
        await sync_to_async(person.save)()
    # Writes that send no signal (so no cache drop) count as much.
    await User.objects.filter(pk=dan.pk).aupdate(password="pbkdf2_sha256$1$x$y")
    await User.objects.filter(pk=eve.pk).aupdate(is_active=False)
    await fay.adelete()

    for socket in (by_cookie, by_ticket, updated, deactivated, deleted):
        assert await closed_with(socket) == 4401
    assert await silent(kept)
    await by_cookie.disconnect()


async def test_a_password_change_refuses_a_ticket_issued_before_it(people) -> None:
    ticket = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    await User.objects.filter(pk=people["ana"].pk).aupdate(password="pbkdf2_sha256$1$x$y")

    socket, _ = await raw_socket(f"/ws/chat/?ticket={ticket}", [])

    assert await closed_with(socket) == 4401


async def test_every_frame_type_spends_its_own_budget(people, open_socket, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 2
    channel_id = await jazz_with(people)
    posted = await chat_message_post(user=people["ana"], channel_id=channel_id, content="one")
    ana = await open_socket(people["ana"])
    sent = {
        "read": {
            "type": "read",
            "channel": str(channel_id),
            "message_id": str(posted.message.public_id),
        },
        "resume": {"type": "resume", "after": None},
        "typing": {"type": "typing", "channel": str(channel_id)},
        "invalid": {"type": "shout"},
    }
    answers: dict[str, list[str]] = {}
    for kind, frame in sent.items():
        for _ in range(3):
            await ana.send_json_to(frame)
        replies = await frames(ana, {"read": 3, "resume": 5, "typing": 1, "invalid": 3}[kind])
        answers[kind] = [reply.get("code", reply["type"]) for reply in replies]

    assert answers == {
        "read": ["read", "read", "rate_limited"],
        "resume": ["message", "resumed", "message", "resumed", "rate_limited"],
        "typing": ["rate_limited"],  # one's own typing is not echoed
        "invalid": ["invalid_frame", "invalid_frame", "rate_limited"],
    }


async def test_sockets_per_user_are_capped(people, open_socket, settings) -> None:
    settings.CHAT_MAX_SOCKETS_PER_USER = 2
    first = await open_socket(people["ana"])
    await open_socket(people["ana"])
    ticket = await chat_ticket_issue(user=people["ana"], family_id=None, session_key=None)
    third, _ = await raw_socket(f"/ws/chat/?ticket={ticket}")

    assert await closed_with(third) == 4429
    assert await silent(first)
    await open_socket(people["ben"])  # another user's sockets count apart
    await first.disconnect()
    await open_socket(people["ana"])  # a closed socket gives its slot back
