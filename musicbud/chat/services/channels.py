"""Channel writes: create (the creator is its admin), change and delete (its admins)."""

from __future__ import annotations

from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from musicbud.chat.fanout import channel_group, publish
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Channel, Membership, MembershipState, Role
from musicbud.chat.selectors import ChannelView, channel_load, channel_view_load
from musicbud.chat.services.checks import clean_name, staff_membership
from musicbud.display_text import display_text_key
from musicbud.errors import Conflict
from musicbud.models import User


@chat_hop
def chat_channel_create(*, user: User, name: str, description: str, visibility: str) -> ChannelView:
    """A new channel whose creator is its admin; 409 when the name is taken — in any case,
    compatibility form or look-alike letters (``display_text_key``)."""
    name = clean_name(name)
    if Channel.objects.filter(name_key=display_text_key(name)).exists():
        raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken")
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                name=name, description=description.strip(), visibility=visibility, creator=user
            )
            Membership.objects.create(
                channel=channel,
                user=user,
                role=Role.ADMIN,
                state=MembershipState.ACTIVE,
                joined_at=timezone.now(),
            )
    except IntegrityError:  # a concurrent create took the name between check and insert
        raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken") from None
    return channel_view_load(user_id=user.pk, channel_id=channel.public_id)


@chat_hop
def chat_channel_update(
    *,
    user: User,
    channel_id: UUID,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> ChannelView:
    """Change a channel's name, description or visibility (its admins only)."""
    try:
        with transaction.atomic():
            channel = channel_load(channel_id)
            staff_membership(
                channel, user, roles=frozenset({Role.ADMIN}), action="change the channel"
            )
            if name is not None:
                name = clean_name(name)
                taken = Channel.objects.filter(name_key=display_text_key(name))
                if taken.exclude(pk=channel.pk).exists():
                    raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken")
                channel.name = name
            if description is not None:
                channel.description = description.strip()
            if visibility is not None:
                channel.visibility = visibility
            channel.save()
    except IntegrityError:
        raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken") from None
    return channel_view_load(user_id=user.pk, channel_id=channel.public_id)


@chat_hop
def _channel_delete(*, user: User, channel_id: UUID) -> None:
    with transaction.atomic():
        channel = channel_load(channel_id)
        staff_membership(channel, user, roles=frozenset({Role.ADMIN}), action="delete the channel")
        channel.delete()


async def chat_channel_delete(*, user: User, channel_id: UUID) -> None:
    """Delete a channel with its messages (its admins only); open sockets are told."""
    await _channel_delete(user=user, channel_id=channel_id)
    channel = str(channel_id)
    await publish(
        [channel_group(channel)],
        event={"type": "channel_deleted", "channel": channel},
        unsubscribe=channel,
    )
