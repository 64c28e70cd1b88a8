"""Chat reads: channels, members, histories, conversations with unread counts, socket state.

Each selector is one thread hop (``chat_hop``) doing all of its queries.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connections
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from musicbud.chat.hops import chat_hop
from musicbud.chat.models import (
    Block,
    Channel,
    Conversation,
    Membership,
    MembershipState,
    Message,
    Visibility,
)
from musicbud.errors import InvalidInput, NotFound, PermissionDenied
from musicbud.models import User


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: UUID  # the public id, as everywhere a view goes out
    name: str
    description: str
    visibility: str
    created_at: datetime
    creator: str | None
    member_count: int
    role: str | None
    state: str | None
    unread: int | None


@dataclass(frozen=True, slots=True)
class MembershipView:
    id: UUID
    channel_id: UUID
    channel_name: str
    user: User
    role: str
    state: str
    joined_at: datetime | None
    invited_by: str | None


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: UUID
    user: User | None  # None: the other person deleted their account
    last_message: Message | None
    unread: int


@dataclass(frozen=True, slots=True)
class SocketState:
    """What a socket subscribes to and filters by when it opens."""

    channels: list[str]  # public ids
    blocked_ids: set[int]


def active_user(username: str) -> User:
    """The active user named ``username`` (case-insensitive); 404 otherwise."""
    user = User.objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        raise NotFound(f"No user named {username!r}", code="user_not_found")
    return user


def channel_load(channel_id: UUID) -> Channel:
    """The channel of that public id; 404 otherwise."""
    channel = Channel.objects.select_related("creator").filter(public_id=channel_id).first()
    if channel is None:
        raise NotFound(f"No channel with id {channel_id}", code="channel_not_found")
    return channel


def membership_of(*, channel_id: int, user_id: int) -> Membership | None:
    return Membership.objects.filter(channel_id=channel_id, user_id=user_id).first()


def membership_view(membership: Membership) -> MembershipView:
    """``membership`` with ``channel``, ``user`` and ``invited_by`` loaded (or loadable)."""
    return MembershipView(
        id=membership.public_id,
        channel_id=membership.channel.public_id,
        channel_name=membership.channel.name,
        user=membership.user,
        role=membership.role,
        state=membership.state,
        joined_at=membership.joined_at,
        invited_by=membership.invited_by.username if membership.invited_by else None,
    )


def blocked_ids(user_id: int) -> set[int]:
    return set(Block.objects.filter(blocker_id=user_id).values_list("blocked_id", flat=True))


def _unread_in_channel(user_id: int) -> Subquery:
    """Messages of the outer channel after the user's marker, not the user's own."""
    marker = Membership.objects.filter(channel_id=OuterRef(OuterRef("pk")), user_id=user_id).values(
        "last_read_message_id"
    )[:1]
    unread = (
        Message.objects.filter(channel_id=OuterRef("pk"), deleted_at__isnull=True)
        .exclude(author_id=user_id)
        .filter(pk__gt=Coalesce(Subquery(marker), Value(0)))
        .order_by()
        .values("channel_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(unread, output_field=IntegerField())


def _channels(user_id: int) -> QuerySet[Channel]:
    mine = Membership.objects.filter(channel_id=OuterRef("pk"), user_id=user_id)
    return Channel.objects.select_related("creator").annotate(
        member_count=Count("memberships", filter=Q(memberships__state=MembershipState.ACTIVE)),
        my_role=Subquery(mine.values("role")[:1]),
        my_state=Subquery(mine.values("state")[:1]),
        my_unread=_unread_in_channel(user_id),
    )


def _channel_view(channel: Channel) -> ChannelView:
    state = getattr(channel, "my_state", None)
    unread = getattr(channel, "my_unread", None)
    return ChannelView(
        id=channel.public_id,
        name=channel.name,
        description=channel.description,
        visibility=channel.visibility,
        created_at=channel.created_at,
        creator=channel.creator.username if channel.creator else None,
        member_count=getattr(channel, "member_count", 0),
        role=getattr(channel, "my_role", None),
        state=state,
        unread=(unread or 0) if state == MembershipState.ACTIVE else None,
    )


def channel_view_load(*, user_id: int, channel_id: UUID) -> ChannelView:
    channel = _channels(user_id).filter(public_id=channel_id).first()
    if channel is None:
        raise NotFound(f"No channel with id {channel_id}", code="channel_not_found")
    return _channel_view(channel)


@chat_hop
def chat_channel_get(*, user: User, channel_id: UUID) -> ChannelView:
    """One channel with my role, state and unread count (private channels show their name
    and description to everyone, so people can ask to join; their history is for members)."""
    return channel_view_load(user_id=user.pk, channel_id=channel_id)


def _channel_matches(
    channels: QuerySet[Channel], *, user: User, query: str, mine: bool
) -> QuerySet[Channel]:
    if query:
        channels = channels.filter(name__icontains=query)
    if mine:
        channels = channels.filter(
            memberships__user_id=user.pk, memberships__state=MembershipState.ACTIVE
        )
    return channels


@chat_hop
def chat_channels_list(
    *, user: User, query: str, mine: bool, offset: int, limit: int
) -> list[ChannelView]:
    """Channels by name (names starting with ``query`` first), ``limit + 1`` from ``offset``;
    ``mine``: only those I am an active member of."""
    channels = _channel_matches(_channels(user.pk), user=user, query=query, mine=mine)
    rows = channels.order_by(F("name").asc(), "pk")[offset : offset + limit + 1]
    return [_channel_view(channel) for channel in rows]


@chat_hop
def chat_channels_count(*, user: User, query: str, mine: bool) -> int:
    """How many channels ``chat_channels_list`` pages through."""
    return _channel_matches(Channel.objects.all(), user=user, query=query, mine=mine).count()


def _row_of(public_id: UUID) -> Subquery:
    return Subquery(Message.objects.filter(public_id=public_id).values("pk")[:1])


def _history(
    messages: QuerySet[Message], *, before: UUID | None, limit: int, after: UUID | None = None
) -> list[Message]:
    """``limit + 1`` messages newest first, older than the message ``before``; with
    ``after``, the ``limit + 1`` just newer than it, oldest first (a page back towards the
    newest). Both name a message by public id (one query: its row id is a subquery)."""
    messages = messages.filter(deleted_at__isnull=True).select_related(
        "author", "channel", "conversation"
    )
    if after is not None:
        return list(messages.filter(pk__gt=_row_of(after)).order_by("pk")[: limit + 1])
    if before is not None:
        messages = messages.filter(pk__lt=_row_of(before))
    return list(messages.order_by("-pk")[: limit + 1])


@chat_hop
def chat_channel_messages(
    *, user: User, channel_id: UUID, before: UUID | None, limit: int, after: UUID | None = None
) -> list[Message]:
    """A channel's messages newest first (``limit + 1``, older than ``before``), without
    deleted ones and without those of people I blocked. A private channel's history is for
    its members; a banned member reads nothing."""
    channel = channel_load(channel_id)
    membership = membership_of(channel_id=channel.pk, user_id=user.pk)
    state = membership.state if membership else None
    if state == MembershipState.BANNED or (
        channel.visibility == Visibility.PRIVATE and state != MembershipState.ACTIVE
    ):
        raise PermissionDenied("Only members may read this channel's messages", code="not_a_member")
    messages = Message.objects.filter(channel_id=channel.pk).exclude(
        author_id__in=blocked_ids(user.pk)
    )
    return _history(messages, before=before, after=after, limit=limit)


def blocked_between(first: User, second: User) -> Block | None:
    """A block either way between two users, if any."""
    return Block.objects.filter(
        blocker_id__in=(first.pk, second.pk), blocked_id__in=(first.pk, second.pk)
    ).first()


def conversation_between(first: User, second: User) -> Conversation | None:
    low, high = sorted((first.pk, second.pk))
    return Conversation.objects.filter(user_low_id=low, user_high_id=high).first()


@chat_hop
def chat_conversation_messages(
    *, user: User, username: str, before: UUID | None, limit: int, after: UUID | None = None
) -> list[Message]:
    """My direct messages with ``username``, newest first (``limit + 1``)."""
    other = active_user(username)
    conversation = conversation_between(user, other)
    if conversation is None:
        return []
    return _history(
        Message.objects.filter(conversation_id=conversation.pk),
        before=before,
        after=after,
        limit=limit,
    )


def conversation_marker_field(conversation: Conversation, user_id: int) -> str:
    return "user_low_last_read" if conversation.user_low_id == user_id else "user_high_last_read"


def conversation_unread(conversation: Conversation, user_id: int) -> int:
    marker = getattr(conversation, f"{conversation_marker_field(conversation, user_id)}_id") or 0
    return (
        Message.objects.filter(
            conversation_id=conversation.pk, deleted_at__isnull=True, pk__gt=marker
        )
        .exclude(author_id=user_id)
        .count()
    )


def _my_conversations(user: User) -> QuerySet[Conversation]:
    """My conversations but those with someone I blocked or who blocked me: a block hides
    each from the other everywhere (the messages stay, and show again if it is lifted)."""
    across_block = Block.objects.filter(
        Q(blocker_id=OuterRef("user_low_id"), blocked_id=OuterRef("user_high_id"))
        | Q(blocker_id=OuterRef("user_high_id"), blocked_id=OuterRef("user_low_id"))
    )
    return Conversation.objects.filter(Q(user_low_id=user.pk) | Q(user_high_id=user.pk)).exclude(
        Exists(across_block)
    )


@chat_hop
def chat_conversations_count(*, user: User) -> int:
    """How many conversations ``chat_conversations_list`` pages through (those with a
    message)."""
    live = Message.objects.filter(conversation_id=OuterRef("pk"), deleted_at__isnull=True)
    return _my_conversations(user).filter(Exists(live)).count()


@chat_hop
def chat_conversations_list(*, user: User, offset: int, limit: int) -> list[ConversationView]:
    """My conversations that have messages, the most recently active first, each with the
    other person, the last message and how many of theirs I have not read."""
    live = Message.objects.filter(conversation_id=OuterRef("pk"), deleted_at__isnull=True)
    unread = (
        live.exclude(author_id=user.pk)
        .filter(pk__gt=OuterRef("my_marker"))
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = list(
        _my_conversations(user)
        .annotate(
            last_id=Subquery(live.order_by("-pk").values("pk")[:1]),
            # My side's read marker: the pair is stored once, lower user id first.
            my_marker=Case(
                When(user_low_id=user.pk, then=Coalesce("user_low_last_read_id", Value(0))),
                default=Coalesce("user_high_last_read_id", Value(0)),
            ),
        )
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
        .filter(last_id__isnull=False)
        .select_related("user_low", "user_high")
        .order_by("-last_id")[offset : offset + limit + 1]
    )
    last_messages = Message.objects.select_related("author", "channel", "conversation").in_bulk(
        [row.last_id for row in rows]
    )
    return [
        ConversationView(
            id=row.public_id,
            user=row.user_high if row.user_low_id == user.pk else row.user_low,
            last_message=last_messages.get(row.last_id),
            unread=row.unread,
        )
        for row in rows
    ]


def _invitations(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user.pk, state=MembershipState.INVITED)


@chat_hop
def chat_invitations_count(*, user: User) -> int:
    """How many invitations ``chat_invitations_list`` pages through."""
    return _invitations(user).count()


@chat_hop
def chat_invitations_list(*, user: User, offset: int, limit: int) -> list[MembershipView]:
    """Invitations waiting for my answer, newest first (``limit + 1``)."""
    rows = (
        _invitations(user)
        .select_related("channel", "user", "invited_by")
        .order_by("-created_at", "-pk")[offset : offset + limit + 1]
    )
    return [membership_view(row) for row in rows]


@chat_hop
def chat_socket_state(*, user_id: int) -> SocketState:
    """The channels a socket of ``user_id`` listens to and the people whose messages it drops."""
    channels = [
        str(public_id)
        for public_id in Membership.objects.filter(user_id=user_id, state=MembershipState.ACTIVE)
        .order_by("channel_id")
        .values_list("channel__public_id", flat=True)
    ]
    return SocketState(channels=channels, blocked_ids=blocked_ids(user_id))


@chat_hop
def chat_messages_since(*, user_id: int, after: UUID | None, limit: int) -> list[Message]:
    """What a socket missed: messages after the message ``after`` (None: from the first) in
    my channels and conversations, oldest first (``limit + 1``), without deleted ones and
    those of people I blocked; an unknown ``after`` is a 404.

    One range of the (channel, id) or (conversation, id) index per channel and conversation
    of mine, at most ``limit + 1`` rows each, merged by id: a filter over the whole table
    would walk every other channel's messages after ``after``."""
    after_row = 0
    if after is not None:
        found = Message.objects.filter(public_id=after).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound(f"No message with id {after}", code="message_not_found")
        after_row = int(found)
    channel_ids = Membership.objects.filter(
        user_id=user_id, state=MembershipState.ACTIVE
    ).values_list("channel_id", flat=True)
    conversation_ids = Conversation.objects.filter(
        Q(user_low_id=user_id) | Q(user_high_id=user_id)
    ).values_list("pk", flat=True)
    visible = (
        Message.objects.filter(pk__gt=after_row, deleted_at__isnull=True)
        .exclude(author_id__in=blocked_ids(user_id))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ranges = [visible.filter(channel_id=pk)[: limit + 1] for pk in channel_ids] + [
        visible.filter(conversation_id=pk)[: limit + 1] for pk in conversation_ids
    ]
    if not ranges:
        return []
    ids: list[int]
    if len(ranges) == 1:
        ids = list(ranges[0])
    elif connections[Message.objects.db].features.supports_slicing_ordering_in_compound:
        ids = list(ranges[0].union(*ranges[1:], all=True).order_by("pk")[: limit + 1])
    else:
        # SQLite cannot cut the parts of a UNION: one query per range, merged here.
        ids = list(heapq.merge(*(list(part) for part in ranges)))[: limit + 1]
    return list(
        Message.objects.filter(pk__in=ids)
        .select_related("author", "channel", "conversation")
        .order_by("pk")
    )


@chat_hop
def chat_conversation_peer(*, user: User, username: str) -> tuple[UUID, int]:
    """(conversation public id, the other user's id) of my conversation with ``username``; 404
    without one or when they blocked me (as for an unknown user: a block is never revealed),
    403 when I blocked them."""
    other = active_user(username)
    if other.pk == user.pk:
        raise InvalidInput("You cannot message yourself", code="same_user")
    if (block := blocked_between(user, other)) is not None:
        if block.blocker_id != user.pk:
            raise NotFound(f"No user named {other.username!r}", code="user_not_found")
        raise PermissionDenied(f"You blocked {other.username}", code="blocked")
    conversation = conversation_between(user, other)
    if conversation is None:
        raise NotFound(f"No conversation with {other.username}", code="conversation_not_found")
    return conversation.public_id, other.pk
