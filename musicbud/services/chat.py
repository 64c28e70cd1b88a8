"""Chat writes: channels, membership and moderation, messages, blocks and read markers. Each is
one transaction, fanned out to open sockets (``musicbud.chat.fanout``) only once stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from musicbud.chat.fanout import channel_group, message_payload, publish, user_group, user_payload
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import (
    CLIENT_ID_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    Block,
    Channel,
    Conversation,
    Membership,
    MembershipState,
    Message,
    Role,
    Visibility,
)
from musicbud.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from musicbud.models import User
from musicbud.selectors.chat import (
    ChannelView,
    MembershipView,
    active_user,
    blocked_between,
    channel_load,
    channel_view_load,
    conversation_between,
    conversation_marker_field,
    conversation_unread,
    membership_of,
    membership_view,
)

ModerationAction = Literal["kick", "ban", "promote", "demote"]
STAFF_ROLES = frozenset({Role.ADMIN, Role.MODERATOR})
_PROMOTED = {Role.MEMBER: Role.MODERATOR, Role.MODERATOR: Role.ADMIN}
_DEMOTED = {Role.ADMIN: Role.MODERATOR, Role.MODERATOR: Role.MEMBER}


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """A membership change to fan out once committed."""

    channel_id: int
    user_id: int
    payload: dict[str, Any]
    subscribe: bool = False
    unsubscribe: bool = False


async def _publish_member_event(event: MemberEvent) -> None:
    routing: dict[str, Any] = {}
    if event.subscribe:
        routing["subscribe"] = event.channel_id
    if event.unsubscribe:
        routing["unsubscribe"] = event.channel_id
    # The channel's members see it; the member's own sockets get their copy (with the
    # subscription change) through their user group, so they skip the channel's.
    await publish(
        [channel_group(event.channel_id)],
        event=event.payload,
        channel=event.channel_id,
        skip_user=event.user_id,
    )
    await publish([user_group(event.user_id)], event=event.payload, **routing)


async def _published(result: tuple[Any, MemberEvent | None]) -> Any:
    """The view a membership service answers, once its event (if any) is fanned out."""
    view, event = result
    if event is not None:
        await _publish_member_event(event)
    return view


def _member_event(membership: Membership, action: str, **flags: bool) -> MemberEvent:
    return MemberEvent(
        channel_id=membership.channel_id,
        user_id=membership.user_id,
        payload={
            "type": "member",
            "action": action,
            "channel": membership.channel_id,
            "user": user_payload(membership.user),
            "role": membership.role,
            "state": membership.state,
        },
        **flags,
    )


# --- checks -----------------------------------------------------------------------------------


def _invalid(field: str, message: str, *, detail: str, kind: str) -> InvalidInput:
    """A validation error about one field, in the shape request validation answers."""
    return InvalidInput(
        message,
        code="validation_error",
        details=[{"field": field, "message": detail, "type": kind}],
    )


def _not_blank(value: str, *, field: str, message: str) -> str:
    value = value.strip()
    if not value:
        raise _invalid(field, message, detail="Must not be blank", kind="blank")
    return value


def _clean_name(name: str) -> str:
    return _not_blank(name, field="name", message="A channel needs a name")


def _clean_content(content: str) -> str:
    content = _not_blank(content, field="content", message="A message cannot be blank")
    if len(content) > MESSAGE_MAX_LENGTH:
        raise _invalid(
            "content",
            f"A message holds at most {MESSAGE_MAX_LENGTH} characters",
            detail=f"At most {MESSAGE_MAX_LENGTH} characters",
            kind="too_long",
        )
    return content


def _clean_client_id(client_id: str | None) -> str | None:
    if client_id is None:
        return None
    if not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH or not client_id.isprintable():
        raise _invalid(
            "client_id",
            f"client_id: 1-{CLIENT_ID_MAX_LENGTH} printable characters",
            detail="Invalid client id",
            kind="invalid",
        )
    return client_id


def _active_membership(channel: Channel, user: User) -> Membership:
    """My active membership of ``channel``; 403 when I have none (or am banned)."""
    membership = membership_of(channel_id=channel.pk, user_id=user.pk)
    if membership is None or membership.state != MembershipState.ACTIVE:
        raise PermissionDenied("You are not a member of this channel", code="not_a_member")
    return membership


def _staff(channel: Channel, user: User, *, roles: frozenset[str], action: str) -> Membership:
    membership = _active_membership(channel, user)
    if membership.role not in roles:
        names = " or ".join(sorted(roles))
        raise PermissionDenied(f"Only a channel {names} may {action}", code="channel_role_required")
    return membership


def _target(channel: Channel, actor: User, username: str) -> tuple[User, Membership | None]:
    target = active_user(username)
    if target.pk == actor.pk:
        raise InvalidInput("You cannot do that to yourself", code="same_user")
    membership = (
        Membership.objects.select_for_update()
        .filter(channel_id=channel.pk, user_id=target.pk)
        .first()
    )
    return target, membership


def _other_admins(channel: Channel, user: User) -> bool:
    return (
        Membership.objects.filter(
            channel_id=channel.pk, role=Role.ADMIN, state=MembershipState.ACTIVE
        )
        .exclude(user_id=user.pk)
        .exists()
    )


# --- channels ---------------------------------------------------------------------------------


@chat_hop
def chat_channel_create(*, user: User, name: str, description: str, visibility: str) -> ChannelView:
    """A new channel whose creator is its admin; 409 when the name (any case) is taken."""
    name = _clean_name(name)
    if Channel.objects.filter(name__iexact=name).exists():
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
    return channel_view_load(user_id=user.pk, channel_id=channel.pk)


@chat_hop
def chat_channel_update(
    *,
    user: User,
    channel_id: int,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> ChannelView:
    """Change a channel's name, description or visibility (its admins only)."""
    try:
        with transaction.atomic():
            channel = channel_load(channel_id)
            _staff(channel, user, roles=frozenset({Role.ADMIN}), action="change the channel")
            if name is not None:
                name = _clean_name(name)
                if Channel.objects.filter(name__iexact=name).exclude(pk=channel.pk).exists():
                    raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken")
                channel.name = name
            if description is not None:
                channel.description = description.strip()
            if visibility is not None:
                channel.visibility = visibility
            channel.save()
    except IntegrityError:
        raise Conflict(f"A channel named {name!r} exists", code="channel_name_taken") from None
    return channel_view_load(user_id=user.pk, channel_id=channel.pk)


@chat_hop
def _channel_delete(*, user: User, channel_id: int) -> None:
    with transaction.atomic():
        channel = channel_load(channel_id)
        _staff(channel, user, roles=frozenset({Role.ADMIN}), action="delete the channel")
        channel.delete()


async def chat_channel_delete(*, user: User, channel_id: int) -> None:
    """Delete a channel with its messages (its admins only); open sockets are told."""
    await _channel_delete(user=user, channel_id=channel_id)
    await publish(
        [channel_group(channel_id)],
        event={"type": "channel_deleted", "channel": channel_id},
        unsubscribe=channel_id,
    )


# --- membership -------------------------------------------------------------------------------


def _activate(membership: Membership) -> None:
    membership.state = MembershipState.ACTIVE
    membership.joined_at = timezone.now()
    membership.save(update_fields=["state", "joined_at"])


@chat_hop
def _join(*, user: User, channel_id: int) -> tuple[MembershipView, MemberEvent | None]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        membership = (
            Membership.objects.select_for_update()
            .filter(channel_id=channel.pk, user_id=user.pk)
            .first()
        )
        event = None
        if membership is None:
            public = channel.visibility == Visibility.PUBLIC
            membership = Membership.objects.create(
                channel=channel,
                user=user,
                state=MembershipState.ACTIVE if public else MembershipState.PENDING,
                joined_at=timezone.now() if public else None,
            )
            event = _member_event(membership, "joined" if public else "requested", subscribe=public)
        elif membership.state == MembershipState.BANNED:
            raise PermissionDenied("You are banned from this channel", code="banned")
        elif membership.state == MembershipState.INVITED:
            _activate(membership)
            event = _member_event(membership, "joined", subscribe=True)
        membership.channel = channel
        return membership_view(membership), event


async def chat_channel_join(*, user: User, channel_id: int) -> MembershipView:
    """Join a public channel, or ask to join a private one (pending until approved); an
    invitation is accepted by joining. Joining again changes nothing; banned: 403."""
    view: MembershipView = await _published(await _join(user=user, channel_id=channel_id))
    return view


@chat_hop
def _leave(*, user: User, channel_id: int) -> MemberEvent:
    with transaction.atomic():
        channel = channel_load(channel_id)
        membership = (
            Membership.objects.select_for_update()
            .filter(channel_id=channel.pk, user_id=user.pk)
            .first()
        )
        if membership is None or membership.state == MembershipState.BANNED:
            raise NotFound("You are not a member of this channel", code="not_a_member")
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
        event = _member_event(membership, "left", unsubscribe=True)
        membership.delete()
        return event


async def chat_channel_leave(*, user: User, channel_id: int) -> None:
    """Leave a channel (or withdraw a request); the last admin must promote someone first."""
    await _publish_member_event(await _leave(user=user, channel_id=channel_id))


@chat_hop
def _invite(*, user: User, channel_id: int, username: str) -> tuple[MembershipView, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        _staff(channel, user, roles=STAFF_ROLES, action="invite")
        target, membership = _target(channel, user, username)
        if Block.objects.filter(blocker=target, blocked=user).exists():
            raise PermissionDenied(f"{target.username} does not accept invitations from you")
        if membership is None:
            membership = Membership.objects.create(
                channel=channel, user=target, state=MembershipState.INVITED, invited_by=user
            )
            event = _member_event(membership, "invited")
        elif membership.state == MembershipState.PENDING:
            # They asked already: an invitation from staff is an approval.
            _activate(membership)
            event = _member_event(membership, "approved", subscribe=True)
        else:
            raise Conflict(
                f"{target.username} is already {membership.state} here", code="already_member"
            )
        membership.channel = channel
        return membership_view(membership), event


async def chat_member_invite(*, user: User, channel_id: int, username: str) -> MembershipView:
    """Invite someone (admins and moderators); they accept or decline it."""
    view: MembershipView = await _published(
        await _invite(user=user, channel_id=channel_id, username=username)
    )
    return view


@chat_hop
def _approve(*, user: User, channel_id: int, username: str) -> tuple[MembershipView, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        _staff(channel, user, roles=STAFF_ROLES, action="approve requests")
        _, membership = _target(channel, user, username)
        if membership is None or membership.state != MembershipState.PENDING:
            raise NotFound(f"{username} has not asked to join", code="no_pending_request")
        _activate(membership)
        membership.channel = channel
        return membership_view(membership), _member_event(membership, "approved", subscribe=True)


async def chat_member_approve(*, user: User, channel_id: int, username: str) -> MembershipView:
    """Approve a request to join a private channel (admins and moderators)."""
    view: MembershipView = await _published(
        await _approve(user=user, channel_id=channel_id, username=username)
    )
    return view


@chat_hop
def _moderate(
    *, user: User, channel_id: int, username: str, action: ModerationAction
) -> tuple[MembershipView | None, MemberEvent]:
    with transaction.atomic():
        channel = channel_load(channel_id)
        roles = STAFF_ROLES if action == "kick" else frozenset({Role.ADMIN})
        actor = _staff(channel, user, roles=roles, action=action)
        target, membership = _target(channel, user, username)
        if action == "ban":
            if membership is None:
                membership = Membership(channel=channel, user=target)
            membership.state, membership.role = MembershipState.BANNED, Role.MEMBER
            membership.save()
            return None, _member_event(membership, "banned", unsubscribe=True)
        if membership is None:
            raise NotFound(f"{target.username} is not a member", code="not_a_member")
        if action == "kick":
            if actor.role == Role.MODERATOR and membership.role != Role.MEMBER:
                raise PermissionDenied(
                    "Moderators may kick members only", code="channel_role_required"
                )
            # Removing a ban record lifts the ban (admins only get this far for staff).
            event = _member_event(membership, "kicked", unsubscribe=True)
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
        return membership_view(membership), _member_event(membership, f"{action}d")


async def chat_member_moderate(
    *, user: User, channel_id: int, username: str, action: ModerationAction
) -> MembershipView | None:
    """Kick (admins; moderators kick members), ban, promote or demote (admins). A kicked or
    banned member's open sockets leave the channel's group at once."""
    view: MembershipView | None = await _published(
        await _moderate(user=user, channel_id=channel_id, username=username, action=action)
    )
    return view


@chat_hop
def _respond(
    *, user: User, invitation_id: int, accept: bool
) -> tuple[MembershipView | None, MemberEvent]:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("channel", "invited_by")
            .filter(pk=invitation_id, user_id=user.pk, state=MembershipState.INVITED)
            .first()
        )
        if membership is None:
            raise NotFound(f"No invitation with id {invitation_id}", code="invitation_not_found")
        membership.user = user
        if not accept:
            event = _member_event(membership, "declined")
            membership.delete()
            return None, event
        _activate(membership)
        return membership_view(membership), _member_event(membership, "joined", subscribe=True)


async def chat_invitation_respond(
    *, user: User, invitation_id: int, accept: bool
) -> MembershipView | None:
    """Accept (become a member) or decline (the invitation goes) one of my invitations."""
    view: MembershipView | None = await _published(
        await _respond(user=user, invitation_id=invitation_id, accept=accept)
    )
    return view


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostedMessage:
    message: Message
    created: bool
    recipients: tuple[int, ...] = ()  # a direct message's two users


def _conversation_for(user: User, other: User) -> Conversation:
    if other.pk == user.pk:
        raise InvalidInput("You cannot message yourself", code="same_user")
    if block := blocked_between(user, other):
        who = "You blocked" if block.blocker_id == user.pk else "You are blocked by"
        raise PermissionDenied(f"{who} {other.username}", code="blocked")
    conversation = conversation_between(user, other)
    if conversation is None:
        low, high = sorted((user.pk, other.pk))
        conversation, _ = Conversation.objects.get_or_create(user_low_id=low, user_high_id=high)
    return conversation


def _replayed(*, user: User, client_id: str, place: dict[str, int]) -> Message | None:
    existing = (
        Message.objects.select_related("author").filter(author=user, client_id=client_id).first()
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
    channel_id: int | None,
    username: str | None,
) -> PostedMessage:
    content, client_id = _clean_content(content), _clean_client_id(client_id)
    recipients: tuple[int, ...] = ()
    if channel_id is not None:
        _active_membership(channel_load(channel_id), user)
        place = {"channel": channel_id}
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
                channel_id=place.get("channel"),
                conversation_id=place.get("conversation"),
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
    channel_id: int | None = None,
    username: str | None = None,
) -> PostedMessage:
    """Store a message in a channel (active members) or to ``username`` directly, then fan it
    out. Content is trimmed (blank or over 4,000 characters: 422). The same ``client_id``
    again returns the stored message (``created`` False) and sends nothing twice."""
    if (channel_id is None) == (username is None):
        raise InvalidInput("Name a channel or a user, not both", code="validation_error")
    posted = await _post(
        user=user, content=content, client_id=client_id, channel_id=channel_id, username=username
    )
    if posted.created:
        event = {"type": "message", "message": message_payload(posted.message)}
        if channel_id is not None:
            await publish(
                [channel_group(channel_id)], event=event, channel=channel_id, author=user.pk
            )
        else:
            await publish(
                [user_group(user_id) for user_id in posted.recipients], event=event, author=user.pk
            )
    return posted


@chat_hop
def _delete(*, user: User, message_id: int) -> tuple[Message, list[str]]:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .filter(pk=message_id, deleted_at__isnull=True)
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
        return message, _message_groups(message)


async def chat_message_delete(*, user: User, message_id: int) -> None:
    """Mark a message deleted (its author; in a channel also its admins and moderators).
    Its content stays in the database for site staff (admin) and is never served again."""
    message, groups = await _delete(user=user, message_id=message_id)
    await publish(groups, event=_deleted_event(message), channel=message.channel_id)


# --- blocks -----------------------------------------------------------------------------------


@chat_hop
def _block(*, user: User, username: str) -> tuple[User, bool]:
    target = active_user(username)
    if target.pk == user.pk:
        raise InvalidInput("You cannot block yourself", code="same_user")
    _, created = Block.objects.get_or_create(blocker=user, blocked=target)
    return target, created


async def chat_block_add(*, user: User, username: str) -> bool:
    """Block someone: their direct messages are refused and nothing of theirs reaches me
    (open sockets too). True when the block is new."""
    target, created = await _block(user=user, username=username)
    await publish([user_group(user.pk)], event=None, block=target.pk)
    return created


@chat_hop
def _unblock(*, user: User, username: str) -> User:
    target = active_user(username)
    Block.objects.filter(blocker=user, blocked=target).delete()
    return target


async def chat_block_remove(*, user: User, username: str) -> None:
    """Lift a block (nothing to lift is fine)."""
    target = await _unblock(user=user, username=username)
    await publish([user_group(user.pk)], event=None, unblock=target.pk)


# --- read markers -----------------------------------------------------------------------------


def _message_in(message_id: int, **place: int) -> None:
    if not Message.objects.filter(pk=message_id, **place).exists():
        raise NotFound(
            f"No message {message_id} in this channel or conversation", code="message_not_found"
        )


@chat_hop
def chat_read_mark(
    *, user: User, message_id: int, channel_id: int | None = None, username: str | None = None
) -> int:
    """Move my read marker up to ``message_id`` (never back); returns what is still unread."""
    with transaction.atomic():
        if channel_id is not None:
            channel = channel_load(channel_id)
            membership = _active_membership(channel, user)
            _message_in(message_id, channel_id=channel.pk)
            Membership.objects.filter(pk=membership.pk).filter(
                Q(last_read_message__isnull=True) | Q(last_read_message_id__lt=message_id)
            ).update(last_read_message_id=message_id)
            marker = max(membership.last_read_message_id or 0, message_id)
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
        _message_in(message_id, conversation_id=conversation.pk)
        field = conversation_marker_field(conversation, user.pk)
        current = getattr(conversation, f"{field}_id")
        if current is None or current < message_id:
            setattr(conversation, f"{field}_id", message_id)
            conversation.save(update_fields=[field])
        return conversation_unread(conversation, user.pk)


# --- site staff (Django admin) ----------------------------------------------------------------


def _message_groups(message: Message) -> list[str]:
    """Who hears about ``message``: its channel, or a conversation's two users."""
    if message.conversation is not None:
        return [
            user_group(message.conversation.user_low_id),
            user_group(message.conversation.user_high_id),
        ]
    assert message.channel_id is not None  # noqa: S101 - the check constraint
    return [channel_group(message.channel_id)]


def _deleted_event(message: Message) -> dict[str, Any]:
    return {
        "type": "message_deleted",
        "id": message.pk,
        "channel": message.channel_id,
        "conversation": message.conversation_id,
    }


@chat_hop
def _staff_remove(*, staff: User, message_ids: list[int]) -> list[tuple[Message, list[str]]]:
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .filter(pk__in=message_ids, deleted_at__isnull=True)
        )
        now = timezone.now()
        for message in messages:
            message.deleted_at, message.deleted_by = now, staff
        Message.objects.bulk_update(messages, ["deleted_at", "deleted_by"])
        return [(message, _message_groups(message)) for message in messages]


async def chat_messages_remove(*, staff: User, message_ids: list[int]) -> int:
    """Site staff remove messages (the admin's action); members' sockets are told at once."""
    removed = await _staff_remove(staff=staff, message_ids=message_ids)
    for message, groups in removed:
        await publish(groups, event=_deleted_event(message), channel=message.channel_id)
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
        return [_member_event(m, "banned", unsubscribe=True) for m in memberships]


async def chat_memberships_ban(*, membership_ids: list[int]) -> int:
    """Site staff ban members (the admin's action); their open sockets leave at once."""
    events = await _staff_ban(membership_ids=membership_ids)
    for event in events:
        await _publish_member_event(event)
    return len(events)
