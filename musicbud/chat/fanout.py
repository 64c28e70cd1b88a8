"""Fan-out of chat events through the channel layer, after the database has them: what each
event says, which groups hear it (a user's, a channel's), rendered to JSON once."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from redis.exceptions import RedisError

from musicbud.chat.models import Membership, Message
from musicbud.models import User

logger = logging.getLogger(__name__)

# The layer message type consumers handle (ChatConsumer.chat_event).
EVENT_TYPE = "chat.event"
PUBLISH_TIMEOUT_SECONDS = 2.0


def channel_group(channel: str) -> str:
    """The layer group of a channel, by its public id (as sockets and events name it)."""
    return f"chat.channel.{channel}"


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


def timestamp(value: datetime) -> str:
    """As the REST API renders datetimes (Django's JSON encoder: milliseconds, ``Z``)."""
    rendered: str = DjangoJSONEncoder().default(value)
    return rendered


# Who wrote a message whose author deleted their account.
DELETED_AUTHOR = {"username": "", "display_name": "Deleted account"}


def user_payload(user: User | None) -> dict[str, str]:
    if user is None:
        return dict(DELETED_AUTHOR)
    return {"username": user.username, "display_name": user.display_name}


def message_payload(message: Message) -> dict[str, Any]:
    """A message as REST and the socket show it (``author`` must be loaded)."""
    return {
        **message_place(message),
        "author": user_payload(message.author),
        "content": message.content,
        "created_at": timestamp(message.created_at),
    }


def message_place(message: Message) -> dict[str, str | None]:
    """A message's public id and its channel's or conversation's (which must be loaded)."""
    return {
        "id": str(message.public_id),
        "channel": str(message.channel.public_id) if message.channel is not None else None,
        "conversation": (
            str(message.conversation.public_id) if message.conversation is not None else None
        ),
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


async def publish(groups: list[str], *, event: dict[str, Any] | None, **routing: Any) -> None:
    """Send ``event`` (or, with None, only the routing instructions) to ``groups``.

    Each consumer forwards the rendered text as is. ``routing`` carries what a consumer needs
    to filter it or to update its subscriptions:

    - ``channel``: the channel the event belongs to (a consumer no longer subscribed drops it);
    - ``author``: the user who wrote it (a consumer whose user blocked the author drops it);
    - ``skip_user``: that user's own sockets drop it (they get their own copy by user group);
    - ``subscribe`` / ``unsubscribe``: a channel (public id) to join or leave the group of;
    - ``block`` / ``unblock``: a user id to add to or drop from the blocked set;
    - ``recheck``: check now that the socket's login is still live (closed if not).

    Called after the database committed what the event reports: a failure to publish is
    logged and swallowed, since the data is stored and clients catch up with ``resume``.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "text": None if event is None else render(event), **routing}
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            for group in groups:
                await layer.group_send(group, message)
    except (RedisError, OSError, TimeoutError):
        logger.exception("chat fan-out failed", extra={"groups": groups[:5]})


def message_groups(message: Message) -> list[str]:
    """Who hears about ``message``: its channel, or a conversation's two users."""
    if message.conversation is not None:
        sides = (message.conversation.user_low_id, message.conversation.user_high_id)
        return [user_group(user_id) for user_id in sides if user_id is not None]
    assert message.channel is not None  # noqa: S101 - the check constraint
    return [channel_group(str(message.channel.public_id))]


def message_deleted_event(message: Message) -> dict[str, Any]:
    return {"type": "message_deleted", **message_place(message)}


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """A membership change to fan out once committed."""

    channel: str  # its public id
    user_id: int
    payload: dict[str, Any]
    subscribe: bool = False
    unsubscribe: bool = False


def member_event(membership: Membership, action: str, **flags: bool) -> MemberEvent:
    """``action`` done to ``membership`` (its ``user`` loaded), as its channel hears it."""
    channel = str(membership.channel.public_id)
    return MemberEvent(
        channel=channel,
        user_id=membership.user_id,
        payload={
            "type": "member",
            "action": action,
            "channel": channel,
            "user": user_payload(membership.user),
            "role": membership.role,
            "state": membership.state,
        },
        **flags,
    )


async def member_event_publish(event: MemberEvent) -> None:
    routing: dict[str, Any] = {}
    if event.subscribe:
        routing["subscribe"] = event.channel
    if event.unsubscribe:
        routing["unsubscribe"] = event.channel
    # The channel's members see it; the member's own sockets get their copy (with the
    # subscription change) through their user group, so they skip the channel's.
    await publish(
        [channel_group(event.channel)],
        event=event.payload,
        channel=event.channel,
        skip_user=event.user_id,
    )
    await publish([user_group(event.user_id)], event=event.payload, **routing)


async def published(result: tuple[Any, MemberEvent | None]) -> Any:
    """The view a membership service answers, once its event (if any) is fanned out."""
    view, event = result
    if event is not None:
        await member_event_publish(event)
    return view
