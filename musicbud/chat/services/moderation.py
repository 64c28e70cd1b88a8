"""Moderation: a channel's staff kick, ban, promote and demote its members; site staff (the
Django admin) ban members and remove messages in bulk. Open sockets hear of it at once."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from musicbud.chat.fanout import (
    MemberEvent,
    member_event,
    member_event_publish,
    message_deleted_event,
    message_groups,
    publish,
    published,
)
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Membership, MembershipState, Message, Role
from musicbud.chat.selectors import MembershipView, channel_load, membership_view
from musicbud.chat.services.checks import STAFF_ROLES, staff_membership, target_locked
from musicbud.errors import Conflict, NotFound, PermissionDenied
from musicbud.models import User

ModerationAction = Literal["kick", "ban", "unban", "promote", "demote"]
_PROMOTED = {Role.MEMBER: Role.MODERATOR, Role.MODERATOR: Role.ADMIN}
_DEMOTED = {Role.ADMIN: Role.MODERATOR, Role.MODERATOR: Role.MEMBER}


# --- a channel's staff ------------------------------------------------------------------------


@chat_hop
def _moderate(
    *, user: User, channel_id: UUID, username: str, action: ModerationAction
) -> tuple[MembershipView | None, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        roles = STAFF_ROLES if action == "kick" else frozenset({Role.ADMIN})
        actor = staff_membership(channel, user, roles=roles, action=action)
        target, membership = target_locked(channel, user, username)
        if action == "ban":
            if membership is None:
                membership = Membership(channel=channel, user=target)
            membership.state, membership.role = MembershipState.BANNED, Role.MEMBER
            membership.save()
            return None, member_event(membership, "banned", unsubscribe=True)
        if action == "unban":
            return None, _unban(target, membership)
        if membership is None:
            raise NotFound(f"{target.username} is not a member", code="member_not_found")
        if membership.state == MembershipState.BANNED:
            # Kicking a banned member would delete the ban record: a ban is lifted by an
            # admin's unban only, never as a side effect.
            raise Conflict(
                f"{target.username} is banned; an admin lifts a ban with unban",
                code="member_banned",
            )
        if action == "kick":
            if actor.role == Role.MODERATOR and membership.role != Role.MEMBER:
                raise PermissionDenied(
                    "Moderators may kick members only", code="channel_role_required"
                )
            event = member_event(membership, "kicked", unsubscribe=True)
            membership.delete()
            return None, event
        if membership.state != MembershipState.ACTIVE:
            raise Conflict(f"{target.username} is not an active member", code="not_active")
        changes = _PROMOTED if action == "promote" else _DEMOTED
        new_role = changes.get(Role(membership.role))
        if new_role is None:
            raise Conflict(
                f"{target.username} cannot be {action}d further", code=f"cannot_{action}"
            )
        membership.role = new_role
        membership.save(update_fields=["role"])
        membership.channel = channel
        return membership_view(membership), member_event(membership, f"{action}d")


def _unban(target: User, membership: Membership | None) -> MemberEvent:
    """Lift a ban (admins): the record goes, so the user may join or be invited again."""
    if membership is None or membership.state != MembershipState.BANNED:
        raise Conflict(f"{target.username} is not banned", code="not_banned")
    event = member_event(membership, "unbanned")
    membership.delete()
    return event


async def chat_member_moderate(
    *, user: User, channel_id: UUID, username: str, action: ModerationAction
) -> MembershipView | None:
    """Kick (admins; moderators kick members), ban, unban, promote or demote (admins). A
    kicked or banned member's open sockets leave the channel's group at once; a banned
    member cannot be kicked (that would lift the ban), only unbanned."""
    view: MembershipView | None = await published(
        await _moderate(user=user, channel_id=channel_id, username=username, action=action)
    )
    return view


# --- site staff (Django admin) ----------------------------------------------------------------


@chat_hop
def _staff_remove(*, staff: User, message_ids: list[int]) -> list[tuple[Message, list[str]]]:
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "channel")
            .filter(pk__in=message_ids, deleted_at__isnull=True)
        )
        now = timezone.now()
        for message in messages:
            message.deleted_at, message.deleted_by = now, staff
        Message.objects.bulk_update(messages, ["deleted_at", "deleted_by"])
        return [(message, message_groups(message)) for message in messages]


async def chat_messages_remove(*, staff: User, message_ids: list[int]) -> int:
    """Site staff remove messages (the admin's action); members' sockets are told at once."""
    removed = await _staff_remove(staff=staff, message_ids=message_ids)
    for message, groups in removed:
        channel = str(message.channel.public_id) if message.channel is not None else None
        await publish(groups, event=message_deleted_event(message), channel=channel)
    return len(removed)


@chat_hop
def _staff_ban(*, membership_ids: list[int]) -> list[MemberEvent]:
    with transaction.atomic():
        memberships = list(
            Membership.objects.select_for_update()
            .select_related("user")
            .filter(pk__in=membership_ids)
            .exclude(state=MembershipState.BANNED)
        )
        for membership in memberships:
            membership.state, membership.role = MembershipState.BANNED, Role.MEMBER
        Membership.objects.bulk_update(memberships, ["state", "role"])
        return [member_event(m, "banned", unsubscribe=True) for m in memberships]


async def chat_memberships_ban(*, membership_ids: list[int]) -> int:
    """Site staff ban members (the admin's action); their open sockets leave at once."""
    events = await _staff_ban(membership_ids=membership_ids)
    for event in events:
        await member_event_publish(event)
    return len(events)
