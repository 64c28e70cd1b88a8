"""Relationship reads: friend requests, friends with our compatibility, compatibility with
anyone whose taste I may see, and what a compare link shows its holder."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db.models import Q, QuerySet
from django.utils import timezone

from graph import queries
from graph.queries import CompatibilityAnswer
from musicbud.errors import InvalidInput, NotFound
from musicbud.models import User
from musicbud.relationships.models import CompareLink, FriendRequest, Friendship, RequestStatus
from musicbud.relationships.services.friends import (
    FriendRequestView,
    PersonView,
    person,
    request_view,
)
from musicbud.relationships.visibility import (
    blocked_between_read,
    friendship_q,
    taste_hidden_among,
    taste_owner_find,
)
from musicbud.selectors.catalogue import card_of, item_cards_get
from musicbud.selectors.profile import ProfileData, profile_get


def _pending(*, user_id: int, direction: str) -> Q:
    mine = Q(to_user_id=user_id) if direction == "incoming" else Q(from_user_id=user_id)
    return mine & Q(status=RequestStatus.PENDING)


def _requests(*, user_id: int, direction: str, offset: int, limit: int) -> list[FriendRequestView]:
    rows = (
        FriendRequest.objects.filter(_pending(user_id=user_id, direction=direction))
        .select_related("from_user", "to_user")
        .order_by("-id")[offset : offset + limit + 1]
    )
    return [request_view(row) for row in rows]


async def friend_requests_list(
    *, user_id: int, direction: str, offset: int, limit: int
) -> list[FriendRequestView]:
    """My pending requests, ``incoming`` (to me) or else ``outgoing`` (mine), newest first; up to
    ``limit + 1`` from ``offset`` (the extra one signals a next page). A block cancels the
    requests between the two, so none across a block is ever listed."""
    return await sync_to_async(_requests)(
        user_id=user_id, direction=direction, offset=offset, limit=limit
    )


async def friend_request_count(*, user_id: int, direction: str) -> int:
    """How many requests ``friend_requests_list`` pages through, for the same arguments."""
    return await FriendRequest.objects.filter(
        _pending(user_id=user_id, direction=direction)
    ).acount()


@dataclass(frozen=True, slots=True)
class FriendView:
    user: PersonView
    since: datetime
    compatibility: int | None  # None: their taste is hidden from me


def _friends(*, user_id: int, offset: int, limit: int) -> list[tuple[int, User, datetime]]:
    rows = (
        Friendship.objects.filter(friendship_q(user_id))
        .select_related("low", "high")
        .order_by("-created_at", "-id")[offset : offset + limit + 1]
    )
    return [
        (row.high_id, row.high, row.created_at)
        if row.low_id == user_id
        else (row.low_id, row.low, row.created_at)
        for row in rows
    ]


async def friends_list(*, user_id: int, offset: int, limit: int) -> list[FriendView]:
    """My friends, newest friendship first, each with our compatibility score (None for a
    friend whose taste is hidden from me); up to ``limit + 1`` from ``offset``."""
    rows = await sync_to_async(_friends)(user_id=user_id, offset=offset, limit=limit)
    hidden = await taste_hidden_among(
        viewer_id=user_id, public_ids=[other.public_id for _, other, _ in rows]
    )
    friends: list[FriendView] = []
    for other_id, other, since in rows:
        score = None
        if other.public_id not in hidden:
            score = (await queries.compatibility_of(first=user_id, second=other_id)).score
        friends.append(FriendView(user=person(other), since=since, compatibility=score))
    return friends


async def _carded(answer: CompatibilityAnswer) -> CompatibilityAnswer:
    """The answer with each item's card (images, credits) in place of its ref: one batch."""
    cards = await item_cards_get(
        [*(row.item for row in answer.shared), *answer.for_first, *answer.for_second]
    )
    return replace(
        answer,
        shared=[replace(row, item=card_of(cards, row.item)) for row in answer.shared],
        for_first=[card_of(cards, ref) for ref in answer.for_first],
        for_second=[card_of(cards, ref) for ref in answer.for_second],
    )


async def friend_count(*, user_id: int) -> int:
    """How many friends I have (every page of ``friends_list``)."""
    return await Friendship.objects.filter(friendship_q(user_id)).acount()


@dataclass(frozen=True, slots=True)
class CompatibilityView:
    user: PersonView
    answer: CompatibilityAnswer


async def compatibility_get(*, user_id: int, username: str) -> CompatibilityView:
    """How compatible my taste is with that person's; NotFound as for an unknown user across
    a block, PermissionDenied when their taste is hidden from me, 422 for myself."""
    other = await taste_owner_find(viewer_id=user_id, username=username)
    if other.pk == user_id:
        raise InvalidInput("That is you: pick another user", code="same_user")
    answer = await _carded(await queries.compatibility_of(first=user_id, second=other.pk))
    card = await User.objects.filter(pk=other.pk).afirst()
    assert card is not None  # noqa: S101 - found just above
    return CompatibilityView(user=person(card), answer=answer)


class CompareLinkNotFound(NotFound):
    """Unknown, revoked, expired or blocked: one answer. Not logged by Django's request
    logger, whose line would carry the path, and so the token."""

    code = "compare_link_not_found"
    log_request = False

    def __init__(self) -> None:
        super().__init__("No such compare link")


@dataclass(frozen=True, slots=True)
class CompareView:
    owner: ProfileData
    answer: CompatibilityAnswer


def _link_owner(*, viewer_id: int, token: str) -> int:
    link = (
        CompareLink.objects.filter(
            token=token,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            owner__is_active=True,
        )
        .values_list("owner_id", flat=True)
        .first()
    )
    if link is None or blocked_between_read(viewer_id, link):
        # Revoked, expired, unknown and blocked all look alike.
        raise CompareLinkNotFound
    return int(link)


async def compare_get(*, viewer_id: int, token: str) -> CompareView:
    """What a compare link shows the user holding it: the owner's public profile and our
    compatibility, whatever the owner's privacy (the link overrides it); NotFound when the
    link is revoked, expired or unknown, or either of us blocked the other."""
    owner_id = await sync_to_async(_link_owner)(viewer_id=viewer_id, token=token)
    if owner_id == viewer_id:
        raise InvalidInput("That is your own link", code="same_user")
    answer = await _carded(await queries.compatibility_of(first=viewer_id, second=owner_id))
    return CompareView(owner=await profile_get(user_id=owner_id), answer=answer)


@dataclass(frozen=True, slots=True)
class CompareLinkView:
    token: str
    created_at: datetime
    expires_at: datetime


def _live_links(user_id: int) -> QuerySet[CompareLink]:
    return CompareLink.objects.filter(
        owner_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


async def compare_links_list(*, user_id: int, offset: int, limit: int) -> list[CompareLinkView]:
    """My live compare links (not revoked, not expired), newest first."""
    rows = _live_links(user_id).order_by("-id")[offset : offset + limit + 1]
    return [
        CompareLinkView(token=row.token, created_at=row.created_at, expires_at=row.expires_at)
        async for row in rows
    ]


async def compare_link_count(*, user_id: int) -> int:
    """How many live compare links I have (every page of ``compare_links_list``)."""
    return await _live_links(user_id).acount()
