"""Chat's parts of a person's data (the registry: musicbud/accounts/personal_data.py): the
messages they sent, their memberships and their blocks."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Count, Q

from musicbud.accounts.personal_data import PersonalDataPart, personal_data_register
from musicbud.chat.models import (
    Block,
    Channel,
    Conversation,
    Membership,
    MembershipState,
    Message,
    Role,
)
from musicbud.models import User

logger = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _messages(user: User) -> list[dict[str, Any]]:
    rows = (
        Message.objects.filter(author=user, deleted_at=None)
        .select_related("channel", "conversation__user_low", "conversation__user_high")
        .order_by("pk")
    )
    exported = []
    for message in rows:
        if message.conversation is not None:
            other = (
                message.conversation.user_high
                if message.conversation.user_low_id == user.pk
                else message.conversation.user_low
            )
            where = {"direct_message_to": other.username if other is not None else ""}
        else:
            assert message.channel is not None  # noqa: S101 - the check constraint
            where = {"channel": message.channel.name}
        exported.append(
            {
                "id": str(message.public_id),
                **where,
                "content": message.content,
                "created_at": _iso(message.created_at),
                "client_id": message.client_id,
            }
        )
    return exported


def _messages_erase(user: User) -> None:
    """Their messages stay as placeholders (no author, no text); each channel they alone
    administer passes to its longest-standing member, or goes when nobody else is in it."""
    Message.objects.filter(author=user).update(author=None, content="", client_id=None)
    # A conversation whose other side is already gone has nobody left to read it.
    Conversation.objects.filter(
        Q(user_low=user, user_high__isnull=True) | Q(user_high=user, user_low__isnull=True)
    ).delete()
    administered = Membership.objects.filter(
        user=user, role=Role.ADMIN, state=MembershipState.ACTIVE
    ).values_list("channel_id", flat=True)
    for channel in Channel.objects.filter(pk__in=list(administered)).annotate(
        other_admins=Count(
            "memberships",
            filter=Q(memberships__role=Role.ADMIN, memberships__state=MembershipState.ACTIVE)
            & ~Q(memberships__user=user),
        )
    ):
        if channel.other_admins:
            continue
        heir = (
            Membership.objects.filter(channel=channel, state=MembershipState.ACTIVE)
            .exclude(user=user)
            .order_by("joined_at", "created_at", "pk")
            .first()
        )
        if heir is None:
            channel.delete()
            logger.info("channel deleted with its last member", extra={"channel_id": channel.pk})
            continue
        heir.role = Role.ADMIN
        heir.save(update_fields=["role"])
        logger.info(
            "channel handed over", extra={"channel_id": channel.pk, "user_id": heir.user_id}
        )


def _memberships(user: User) -> list[dict[str, Any]]:
    return [
        {
            "channel": row.channel.name,
            "role": row.role,
            "state": row.state,
            "joined_at": _iso(row.joined_at),
        }
        for row in Membership.objects.filter(user=user).select_related("channel").order_by("pk")
    ]


def _blocks(user: User) -> list[dict[str, Any]]:
    return [
        {"username": row.blocked.username, "created_at": _iso(row.created_at)}
        for row in Block.objects.filter(blocker=user).select_related("blocked").order_by("pk")
    ]


personal_data_register(
    PersonalDataPart(
        name="chat_messages",
        description="Every chat message you sent that is not deleted: where, text, time.",
        # Direct conversations stay for the other person (this side set to None); channels
        # they created stay (the creator set to None).
        models=("chat.Message", "chat.Conversation", "chat.Channel"),
        export=_messages,
        erase=_messages_erase,
        order=50,
    )
)
personal_data_register(
    PersonalDataPart(
        name="chat_memberships",
        description="The chat channels you are in (or invited to, or asked to join), your role.",
        models=("chat.Membership",),
        export=_memberships,
        order=51,
    )
)
personal_data_register(
    PersonalDataPart(
        name="blocks",
        description="The people you blocked.",
        models=("chat.Block",),
        export=_blocks,
        order=60,
    )
)
