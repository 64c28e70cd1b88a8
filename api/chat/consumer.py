"""The chat WebSocket ``/ws/chat/?ticket=...`` (or the session cookie from an allowed Origin):
the user's channel and conversation events out; sends, typing, read markers and resumes in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from pydantic import ValidationError
from redis.exceptions import RedisError

from api.chat.frames import FRAMES, ReadFrame, ResumeFrame, SendFrame, TypingFrame
from api.chat.layer_watch import SocketWatch, layer_watch
from api.throttling import enforce_user_rate_limit
from musicbud.chat.fanout import (
    channel_group,
    message_payload,
    publish,
    render,
    user_group,
    user_payload,
)
from musicbud.chat.selectors import (
    chat_conversation_peer,
    chat_messages_since,
    chat_socket_state,
)
from musicbud.chat.services.messages import chat_message_post
from musicbud.chat.services.read_markers import chat_read_mark
from musicbud.chat.socket_slots import (
    socket_slot_refresh,
    socket_slot_release,
    socket_slot_take,
)
from musicbud.chat.tickets import SocketGrant, chat_grant_is_live, chat_ticket_redeem
from musicbud.errors import MusicbudError, PermissionDenied, RateLimited
from musicbud.models import User
from musicbud.selectors.users import password_stamp, principal_get_cached

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_SOCKETS = 4429  # the user holds CHAT_MAX_SOCKETS_PER_USER sockets already
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455's registry: the server is overloaded or failing
# A frame holds at most one message (4,000 characters, as JSON escapes up to 6 bytes each).
MAX_FRAME_CHARS = 32 * 1024
RESUME_LIMIT = 200
# Every frame a client sends spends the user's budget of its type (invalid ones too).
FRAME_GROUP = "chat.socket.{}"


def origin_allowed(scope: dict[str, Any]) -> bool:
    """A browser's cookie may open the socket only from an allowed origin: the API's own
    host, or an origin trusted for CORS or CSRF (cross-site WebSocket hijacking otherwise)."""
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin:
        return False
    if origin in settings.CORS_ALLOWED_ORIGINS or origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    return (
        bool(domain)
        and urlsplit(origin).netloc == host
        and validate_host(domain, settings.ALLOWED_HOSTS)
    )


class SessionWatch(SocketWatch["ChatConsumer"]):
    """Re-checks every open socket of this process, one after the other, every
    ``CHAT_SESSION_CHECK_SECONDS`` (so sockets opened together do not check, and open Redis
    connections, together)."""

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.CHAT_SESSION_CHECK_SECONDS)
            for consumer in list(self.sockets):
                await consumer.check_session()


sessions = SessionWatch()


class ChatConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    grant: SocketGrant | None = None
    holds_slot = False
    accepted = False
    user: User
    subscribed: set[str]  # channels' public ids
    blocked: set[int]

    async def _reply(self, frame_type: str, **fields: Any) -> None:
        """Send this socket one frame of ``frame_type``."""
        await self.send(text_data=render({"type": frame_type, **fields}))

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._reply("error", code=code, message=message, **extra)

    # --- lifecycle ----------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The consumer's whole life; a layer (Redis) failure outside a handler, such as
        creating the socket's layer channel before ``connect``, closes it with 1013 instead
        of failing the handshake (an HTTP 500) or dropping the socket without a close."""
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError):
            logger.exception("chat socket failed on the channel layer")
            await self._leave_watches()
            with contextlib.suppress(RuntimeError, OSError):  # the client may be gone already
                if not self.accepted:
                    await send({"type": "websocket.accept", "subprotocol": None})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def connect(self) -> None:
        # Accepted first, so that a refusal can carry its close code (a refused handshake
        # would reach the client as a bare HTTP 403).
        await self.accept()
        self.subscribed, self.blocked = set(), set()
        try:
            grant = await self._authenticate()
            principal = await principal_get_cached(user_id=grant.user_id) if grant else None
            if grant is None or principal is None:
                await self.close(code=CLOSE_UNAUTHORIZED)
                return
            self.user = principal.user
            self.holds_slot = await socket_slot_take(user_id=self.user.pk, socket=self.channel_name)
            if not self.holds_slot:
                await self.close(code=CLOSE_TOO_MANY_SOCKETS)
                return
            state = await chat_socket_state(user_id=grant.user_id)
            self.blocked = set(state.blocked_ids)
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
            for channel in state.channels:
                await self._subscribe(channel)
        except (RedisError, OSError, DatabaseError):
            # Redis or the database failed us: "try again later", not a crash without a
            # close frame. Whatever was subscribed is dropped by disconnect().
            logger.exception("chat socket could not open")
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        self.grant = grant
        sessions.watch(self)
        layer_watch.watch(self)
        await self._reply("hello", user=user_payload(self.user), channels=sorted(self.subscribed))

    async def _authenticate(self) -> SocketGrant | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        tickets = query.get("ticket")
        if tickets is not None:
            return await chat_ticket_redeem(ticket=tickets[0]) if len(tickets) == 1 else None
        if "session" not in self.scope or not origin_allowed(self.scope):
            return None
        user = await get_user(self.scope)
        if not (user.is_authenticated and user.is_active):
            return None
        return SocketGrant(
            user_id=user.pk,
            password_stamp=password_stamp(user.password),
            session_key=self.scope["session"].session_key,
        )

    async def check_session(self) -> None:
        """Close the socket once its user is deactivated or its login revoked."""
        if self.grant is None:
            return
        try:
            live = await chat_grant_is_live(grant=self.grant)
            if live:
                await socket_slot_refresh(user_id=self.grant.user_id, socket=self.channel_name)
        except (RedisError, OSError):
            logger.warning("chat socket check failed; will retry", exc_info=True)
            return
        if not live:
            await self._close_unauthorized()

    async def _close_unauthorized(self) -> None:
        self.grant = None
        await self.close(code=CLOSE_UNAUTHORIZED)
        sessions.forget(self)
        layer_watch.forget(self)

    async def _close_unavailable(self) -> None:
        """Redis or the database failed a frame: "try again later", with a close frame."""
        self.grant = None
        await self.close(code=CLOSE_TRY_AGAIN_LATER)
        await self._leave_watches()

    async def _leave_watches(self) -> None:
        sessions.forget(self)
        layer_watch.forget(self)

    async def resync(self) -> None:
        """The layer is back after losing events: the client should resume."""
        if self.grant is not None:
            await self._reply("resync")

    async def disconnect(self, code: int) -> None:
        await self._leave_watches()
        if not hasattr(self, "user"):
            return
        if self.holds_slot:
            self.holds_slot = False
            try:
                await socket_slot_release(user_id=self.user.pk, socket=self.channel_name)
            except (RedisError, OSError):  # the slot goes stale on its own
                logger.warning("chat socket slot not released", exc_info=True)
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        for channel in list(self.subscribed):
            await self._unsubscribe(channel)

    async def _subscribe(self, channel: str) -> None:
        await self.channel_layer.group_add(channel_group(channel), self.channel_name)
        self.subscribed.add(channel)

    async def _unsubscribe(self, channel: str) -> None:
        self.subscribed.discard(channel)
        await self.channel_layer.group_discard(channel_group(channel), self.channel_name)

    # --- what the server pushes ---------------------------------------------------------------

    async def chat_event(self, event: dict[str, Any]) -> None:
        """A layer message from ``musicbud.chat.fanout.publish``."""
        if self.grant is None or event.get("skip_user") == self.user.pk:
            return
        if event.get("recheck"):
            # The account's logins were ended (reset, suspension, deletion): check now rather
            # than at the next periodic check.
            await self.check_session()
            return
        channel = event.get("channel")
        if channel is not None and channel not in self.subscribed:
            return  # left, kicked or banned: nothing more from that channel
        if event.get("author") in self.blocked:
            return
        if (leaving := event.get("unsubscribe")) is not None:
            await self._unsubscribe(leaving)
        if (joining := event.get("subscribe")) is not None:
            await self._subscribe(joining)
        if (blocked := event.get("block")) is not None:
            self.blocked.add(blocked)
        if (unblocked := event.get("unblock")) is not None:
            self.blocked.discard(unblocked)
        if event.get("text") is not None:
            await self.send(text_data=event["text"])

    # --- what the client sends ----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.grant is None:
            return
        try:
            await self._handle(text_data)
        except (RedisError, OSError, DatabaseError):
            logger.exception("chat socket frame failed on Redis or the database")
            await self._close_unavailable()

    async def _handle(self, text_data: str | None) -> None:
        if text_data is None:
            if not await self._over_budget("invalid"):
                await self._error("invalid_frame", "Send JSON text frames")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            if not await self._over_budget("invalid"):
                await self._error("frame_too_large", "The frame is too large")
            return
        try:
            frame = FRAMES.validate_json(text_data)
        except ValidationError as exc:
            if await self._over_budget("invalid"):
                return
            details = [
                {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
                for error in exc.errors(include_url=False, include_context=False)[:10]
            ]
            await self._error("invalid_frame", "The frame is not valid", details=details)
            return
        client_id = frame.client_id if isinstance(frame, SendFrame) else None
        try:
            if await self._over_budget(frame.type, client_id=client_id):
                return
            if isinstance(frame, SendFrame):
                await self._send_message(frame)
            elif isinstance(frame, TypingFrame):
                await self._typing(frame)
            elif isinstance(frame, ReadFrame):
                await self._read(frame)
            else:
                await self._resume(frame)
        except MusicbudError as exc:
            extra: dict[str, Any] = {"status_code": int(exc.status_code), "client_id": client_id}
            if exc.details is not None:
                extra["details"] = exc.details
            await self._error(exc.code, exc.message, **extra)

    async def _over_budget(self, kind: str, *, client_id: str | None = None) -> bool:
        """Spend one frame of ``kind`` from the user's budget; when it is spent, say so."""
        try:
            await enforce_user_rate_limit(
                user_id=self.user.pk, group=FRAME_GROUP.format(kind), policy="standard"
            )
        except RateLimited as exc:
            await self._error(
                exc.code, exc.message, client_id=client_id, retry_after=exc.retry_after
            )
            return True
        return False

    async def _send_message(self, frame: SendFrame) -> None:
        assert self.grant is not None  # noqa: S101 - receive() returns early otherwise
        # A write must not outlive the login: checked now, not only at the next watch.
        if not await chat_grant_is_live(grant=self.grant):
            await self._close_unauthorized()
            return
        posted = await chat_message_post(
            user=self.user,
            channel_id=frame.channel,
            username=frame.conversation,
            content=frame.content,
            client_id=frame.client_id,
        )
        await self._reply(
            "ack",
            client_id=frame.client_id,
            created=posted.created,
            message=message_payload(posted.message),
        )

    async def _typing(self, frame: TypingFrame) -> None:
        event: dict[str, Any] = {"type": "typing", "user": user_payload(self.user)}
        if frame.channel is not None:
            channel = str(frame.channel)
            if channel not in self.subscribed:
                raise PermissionDenied("You are not a member of this channel", code="not_a_member")
            event.update(channel=channel, conversation=None)
            await publish(
                [channel_group(channel)],
                event=event,
                channel=channel,
                author=self.user.pk,
                skip_user=self.user.pk,
            )
            return
        assert frame.conversation is not None  # noqa: S101 - the frame has one of the two
        conversation_id, other_id = await chat_conversation_peer(
            user=self.user, username=frame.conversation
        )
        event.update(channel=None, conversation=str(conversation_id))
        await publish([user_group(other_id)], event=event, author=self.user.pk)

    async def _read(self, frame: ReadFrame) -> None:
        unread = await chat_read_mark(
            user=self.user,
            channel_id=frame.channel,
            username=frame.conversation,
            message_id=frame.message_id,
        )
        await self._reply(
            "read",
            channel=str(frame.channel) if frame.channel is not None else None,
            conversation=frame.conversation,
            message_id=str(frame.message_id),
            unread=unread,
        )

    async def _resume(self, frame: ResumeFrame) -> None:
        rows = await chat_messages_since(
            user_id=self.user.pk, after=frame.after, limit=RESUME_LIMIT
        )
        for message in rows[:RESUME_LIMIT]:
            await self._reply("message", message=message_payload(message))
        page = rows[:RESUME_LIMIT]
        after = str(frame.after) if frame.after is not None else None
        await self._reply(
            "resumed",
            after=after,
            count=len(page),
            last=str(page[-1].public_id) if page else after,
            more=len(rows) > RESUME_LIMIT,
        )


class UnknownPathConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Any other WebSocket path: accepted only to say 4404, then closed."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
