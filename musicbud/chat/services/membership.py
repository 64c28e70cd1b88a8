"""Membership writes: join (or ask to), leave, invite, approve a request, answer an
invitation. Each membership change is fanned out to the channel and the member's sockets."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.utils import timezone

from musicbud.chat.fanout import MemberEvent, member_event, member_event_publish, published
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Block, Channel, Membership, MembershipState, Role, Visibility
from musicbud.chat.selectors import MembershipView, channel_load, membership_view
from musicbud.chat.services.checks import (
    STAFF_ROLES,
    membership_locked,
    staff_membership,
    target_locked,
)
from musicbud.errors import Conflict, NotFound, PermissionDenied
from musicbud.models import User


def _activate(membership: Membership) -> None:
    membership.state = MembershipState.ACTIVE
    membership.joined_at = timezone.now()
    membership.save(update_fields=["state", "joined_at"])


def _other_admins(channel: Channel, user: User) -> bool:
    return (
        Membership.objects.filter(
            channel_id=channel.pk, role=Role.ADMIN, state=MembershipState.ACTIVE
        )
        .exclude(user_id=user.pk)
        .exists()
    )


@chat_hop
def _join(*, user: User, channel_id: UUID) -> tuple[MembershipView, MemberEvent | None]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        membership = membership_locked(channel_id=channel.pk, user_id=user.pk)
        event = None
        if membership is None:
            public = channel.visibility == Visibility.PUBLIC
            membership = Membership.objects.create(
                channel=channel,
                user=user,
                state=MembershipState.ACTIVE if public else MembershipState.PENDING,
                joined_at=timezone.now() if public else None,
            )
            event = member_event(membership, "joined" if public else "requested", subscribe=public)
        elif membership.state == MembershipState.BANNED:
            raise PermissionDenied("You are banned from this channel", code="banned")
        elif membership.state == MembershipState.INVITED:
            _activate(membership)
            event = member_event(membership, "joined", subscribe=True)
        membership.channel = channel
        return membership_view(membership), event


async def chat_channel_join(*, user: User, channel_id: UUID) -> MembershipView:
    """Join a public channel, or ask to join a private one (pending until approved); an
    invitation is accepted by joining. Joining again changes nothing; banned: 403."""
    view: MembershipView = await published(await _join(user=user, channel_id=channel_id))
    return view


@chat_hop
def _leave(*, user: User, channel_id: UUID) -> MemberEvent:
    with transaction.atomic():
        channel = channel_load(channel_id)
        membership = membership_locked(channel_id=channel.pk, user_id=user.pk)
        if membership is None or membership.state == MembershipState.BANNED:
            raise PermissionDenied("You are not a member of this channel", code="not_a_member")
        others = (
            Membership.objects.filter(channel_id=channel.pk, state=MembershipState.ACTIVE)
            .exclude(user_id=user.pk)
            .exists()
        )
        if membership.role == Role.ADMIN and others and not _other_admins(channel, user):
            raise Conflict(
                "The last admin cannot leave while others remain; promote someone first",
                code="last_admin",
            )
        event = member_event(membership, "left", unsubscribe=True)
        membership.delete()
        return event


async def chat_channel_leave(*, user: User, channel_id: UUID) -> None:
    """Leave a channel (or withdraw a request); the last admin must promote someone first."""
    await member_event_publish(await _leave(user=user, channel_id=channel_id))


@chat_hop
def _invite(*, user: User, channel_id: UUID, username: str) -> tuple[MembershipView, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        staff_membership(channel, user, roles=STAFF_ROLES, action="invite")
        target, membership = target_locked(channel, user, username)
        if Block.objects.filter(blocker=target, blocked=user).exists():
            raise PermissionDenied(f"{target.username} does not accept invitations from you")
        if membership is None:
            membership = Membership.objects.create(
                channel=channel, user=target, state=MembershipState.INVITED, invited_by=user
            )
            event = member_event(membership, "invited")
        elif membership.state == MembershipState.PENDING:
            # They asked already: an invitation from staff is an approval.
            _activate(membership)
            event = member_event(membership, "approved", subscribe=True)
        elif membership.state == MembershipState.BANNED:
            raise Conflict(f"{target.username} is banned from this channel", code="member_banned")
        else:
            raise Conflict(
                f"{target.username} is already {membership.state} here", code="already_member"
            )
        membership.channel = channel
        return membership_view(membership), event


async def chat_member_invite(*, user: User, channel_id: UUID, username: str) -> MembershipView:
    """Invite someone (admins and moderators); they accept or decline it."""
    view: MembershipView = await published(
        await _invite(user=user, channel_id=channel_id, username=username)
    )
    return view


@chat_hop
def _approve(*, user: User, channel_id: UUID, username: str) -> tuple[MembershipView, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        staff_membership(channel, user, roles=STAFF_ROLES, action="approve requests")
        _, membership = target_locked(channel, user, username)
        if membership is None or membership.state != MembershipState.PENDING:
            raise NotFound(f"{username} has not asked to join", code="no_pending_request")
        _activate(membership)
        membership.channel = channel
        return membership_view(membership), member_event(membership, "approved", subscribe=True)


async def chat_member_approve(*, user: User, channel_id: UUID, username: str) -> MembershipView:
    """Approve a request to join a private channel (admins and moderators)."""
    view: MembershipView = await published(
        await _approve(user=user, channel_id=channel_id, username=username)
    )
    return view


@chat_hop
def _respond(
    *, user: User, invitation_id: UUID, accept: bool
) -> tuple[MembershipView | None, MemberEvent]:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("channel", "invited_by")
            .filter(public_id=invitation_id, user_id=user.pk, state=MembershipState.INVITED)
            .first()
        )
        if membership is None:
            raise NotFound(f"No invitation with id {invitation_id}", code="invitation_not_found")
        membership.user = user
        if not accept:
            event = member_event(membership, "declined")
            membership.delete()
            return None, event
        _activate(membership)
        return membership_view(membership), member_event(membership, "joined", subscribe=True)


async def chat_invitation_respond(
    *, user: User, invitation_id: UUID, accept: bool
) -> MembershipView | None:
    """Accept (become a member) or decline (the invitation goes) one of my invitations."""
    view: MembershipView | None = await published(
        await _respond(user=user, invitation_id=invitation_id, accept=accept)
    )
    return view
