"""Message writes: post to a channel or directly to someone (idempotent by ``client_id``),
and delete (the author; in a channel also its admins and moderators)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from musicbud.accounts.services import email_verified_require
from musicbud.chat.fanout import (
    channel_group,
    message_deleted_event,
    message_groups,
    message_payload,
    publish,
    user_group,
)
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Channel, Conversation, MembershipState, Message
from musicbud.chat.selectors import (
    active_user,
    blocked_between,
    channel_load,
    conversation_between,
    membership_of,
)
from musicbud.chat.services.checks import (
    STAFF_ROLES,
    active_membership,
    clean_client_id,
    clean_content,
)
from musicbud.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from musicbud.models import User


@dataclass(frozen=True, slots=True)
class PostedMessage:
    message: Message
    created: bool
    recipients: tuple[int, ...] = ()  # a direct message's two users


def _conversation_for(user: User, other: User) -> Conversation:
    if other.pk == user.pk:
        raise InvalidInput("You cannot message yourself", code="same_user")
    if block := blocked_between(user, other):
        if block.blocker_id != user.pk:
            # Never reveal a block: to the person blocked, the blocker is an unknown user.
            raise NotFound(f"No user named {other.username!r}", code="user_not_found")
        raise PermissionDenied(f"You blocked {other.username}", code="blocked")
    conversation = conversation_between(user, other)
    if conversation is None:
        low, high = sorted((user.pk, other.pk))
        conversation, _ = Conversation.objects.get_or_create(user_low_id=low, user_high_id=high)
    return conversation


def _replayed(*, user: User, client_id: str, place: dict[str, int]) -> Message | None:
    existing = (
        Message.objects.select_related("author", "channel", "conversation")
        .filter(author=user, client_id=client_id)
        .first()
    )
    if existing is None:
        return None
    if any(getattr(existing, f"{field}_id") != value for field, value in place.items()):
        raise Conflict("That client_id was used for another message", code="client_id_reused")
    return existing


@chat_hop
def _post(
    *,
    user: User,
    content: str,
    client_id: str | None,
    channel_id: UUID | None,
    username: str | None,
) -> PostedMessage:
    content, client_id = clean_content(content), clean_client_id(client_id)
    recipients: tuple[int, ...] = ()
    channel: Channel | None = None
    conversation: Conversation | None = None
    if channel_id is not None:
        channel = channel_load(channel_id)
        active_membership(channel, user)
        place = {"channel": channel.pk}
    else:
        assert username is not None  # noqa: S101 - the public service requires one of the two
        other = active_user(username)
        conversation = _conversation_for(user, other)
        place = {"conversation": conversation.pk}
        recipients = (user.pk, other.pk)
    if client_id is not None and (replay := _replayed(user=user, client_id=client_id, place=place)):
        return PostedMessage(message=replay, created=False, recipients=recipients)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                author=user,
                content=content,
                client_id=client_id,
                channel=channel,
                conversation=conversation,
            )
    except IntegrityError:
        # The same client_id raced itself: the other send stored it.
        replay = _replayed(user=user, client_id=client_id or "", place=place)
        if replay is None:
            raise
        return PostedMessage(message=replay, created=False, recipients=recipients)
    message.author = user
    return PostedMessage(message=message, created=True, recipients=recipients)


async def chat_message_post(
    *,
    user: User,
    content: str,
    client_id: str | None = None,
    channel_id: UUID | None = None,
    username: str | None = None,
) -> PostedMessage:
    """Store a message in a channel (active members) or to ``username`` directly, then fan it
    out. Content is trimmed (blank or over 4,000 characters: 422). The same ``client_id``
    again returns the stored message (``created`` False) and sends nothing twice."""
    if (channel_id is None) == (username is None):
        raise InvalidInput("Name a channel or a user, not both", code="validation_error")
    email_verified_require(user=user, action="chat_send")
    posted = await _post(
        user=user, content=content, client_id=client_id, channel_id=channel_id, username=username
    )
    if posted.created:
        event = {"type": "message", "message": message_payload(posted.message)}
        if posted.message.channel is not None:
            channel = str(posted.message.channel.public_id)
            await publish([channel_group(channel)], event=event, channel=channel, author=user.pk)
        else:
            await publish(
                [user_group(user_id) for user_id in posted.recipients], event=event, author=user.pk
            )
    return posted


@chat_hop
def _delete(*, user: User, message_id: UUID) -> tuple[Message, list[str]]:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "channel")
            .filter(public_id=message_id, deleted_at__isnull=True)
            .first()
        )
        if message is None:
            raise NotFound(f"No message with id {message_id}", code="message_not_found")
        if message.conversation is not None:
            pair = (message.conversation.user_low_id, message.conversation.user_high_id)
            if user.pk not in pair:
                raise NotFound(f"No message with id {message_id}", code="message_not_found")
            if message.author_id != user.pk:
                raise PermissionDenied("Only the author may delete a direct message")
        elif message.author_id != user.pk:
            assert message.channel_id is not None  # noqa: S101 - the check constraint
            membership = membership_of(channel_id=message.channel_id, user_id=user.pk)
            if (
                membership is None
                or membership.state != MembershipState.ACTIVE
                or membership.role not in STAFF_ROLES
            ):
                raise PermissionDenied(
                    "Only the author or a channel admin or moderator may delete this"
                )
        message.deleted_at = timezone.now()
        message.deleted_by = user
        message.save(update_fields=["deleted_at", "deleted_by"])
        return message, message_groups(message)


async def chat_message_delete(*, user: User, message_id: UUID) -> None:
    """Mark a message deleted (its author; in a channel also its admins and moderators).
    Its content stays in the database for site staff (admin) and is never served again."""
    message, groups = await _delete(user=user, message_id=message_id)
    channel = str(message.channel.public_id) if message.channel is not None else None
    await publish(groups, event=message_deleted_event(message), channel=channel)
