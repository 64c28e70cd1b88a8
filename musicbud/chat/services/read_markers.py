"""Read markers: how far I have read a channel or a conversation, which unread counts start
from; a marker only moves forward."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.db.models import Q

from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Membership, Message
from musicbud.chat.selectors import (
    active_user,
    channel_load,
    conversation_between,
    conversation_marker_field,
    conversation_unread,
)
from musicbud.chat.services.checks import active_membership
from musicbud.errors import NotFound
from musicbud.models import User


def _message_in(message_id: UUID, **place: int) -> int:
    """The row id of the message of that public id in ``place``; 404 otherwise."""
    row_id = (
        Message.objects.filter(public_id=message_id, **place).values_list("pk", flat=True).first()
    )
    if row_id is None:
        raise NotFound(
            f"No message {message_id} in this channel or conversation", code="message_not_found"
        )
    return int(row_id)


@chat_hop
def chat_read_mark(
    *, user: User, message_id: UUID, channel_id: UUID | None = None, username: str | None = None
) -> int:
    """Move my read marker up to ``message_id`` (never back); returns what is still unread."""
    with transaction.atomic():
        if channel_id is not None:
            channel = channel_load(channel_id)
            membership = active_membership(channel, user)
            row_id = _message_in(message_id, channel_id=channel.pk)
            Membership.objects.filter(pk=membership.pk).filter(
                Q(last_read_message__isnull=True) | Q(last_read_message_id__lt=row_id)
            ).update(last_read_message_id=row_id)
            marker = max(membership.last_read_message_id or 0, row_id)
            return (
                Message.objects.filter(
                    channel_id=channel.pk, deleted_at__isnull=True, pk__gt=marker
                )
                .exclude(author_id=user.pk)
                .count()
            )
        assert username is not None  # noqa: S101 - the router passes one of the two
        other = active_user(username)
        conversation = conversation_between(user, other)
        if conversation is None:
            raise NotFound(f"No conversation with {other.username}", code="conversation_not_found")
        row_id = _message_in(message_id, conversation_id=conversation.pk)
        field = conversation_marker_field(conversation, user.pk)
        current = getattr(conversation, f"{field}_id")
        if current is None or current < row_id:
            setattr(conversation, f"{field}_id", row_id)
            conversation.save(update_fields=[field])
        return conversation_unread(conversation, user.pk)
