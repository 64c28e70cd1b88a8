"""The one visibility rule: who may see whom. Blocks hide people from each other both ways,
everywhere; ``discoverable`` decides who finds me in listings (buds, item buds, search, the
buds recommendations are drawn from); ``taste_visible_to`` who sees my taste (lists, common
items, compatibility; an item's buds and recommendations, which are someone's taste, leave
them out; my buds list them without the items we share). Every listing of v1 and the legacy
API goes through these functions;
the graph queries take ``hidden_user_ids`` and leave those people out inside their ranking,
before any page is cut (never a post-filter: pages stay full and counts agree)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.models import Q, QuerySet

from musicbud.chat.models import Block
from musicbud.errors import InvalidInput, NotFound, PermissionDenied
from musicbud.models import User
from musicbud.relationships.models import Audience, Friendship, PrivacySettings
from musicbud.selectors.users import UserRef


def friendship_q(user_id: int) -> Q:
    """The ``Friendship`` rows of ``user_id``."""
    return Q(low_id=user_id) | Q(high_id=user_id)


def friend_ids_read(*, user_id: int) -> set[int]:
    """The ids of ``user_id``'s friends (sync: one query)."""
    return {
        high if low == user_id else low
        for low, high in Friendship.objects.filter(friendship_q(user_id)).values_list(
            "low_id", "high_id"
        )
    }


def _left_out(viewer_id: int, column: str) -> QuerySet[Any, tuple[int]]:
    """The ids of the users whose ``column`` (``discoverable``, ``taste_visible_to``) leaves
    ``viewer_id`` out: ``nobody``, or ``friends`` without a friendship (a subquery;
    ``_audience_sql`` is the same rule as plain SQL)."""
    friends_low = Friendship.objects.filter(high_id=viewer_id).values("low_id")
    friends_high = Friendship.objects.filter(low_id=viewer_id).values("high_id")
    return (
        PrivacySettings.objects.filter(
            Q(**{column: Audience.NOBODY})
            | (
                Q(**{column: Audience.FRIENDS})
                & ~Q(user_id__in=friends_low)
                & ~Q(user_id__in=friends_high)
            )
        )
        .exclude(user_id=viewer_id)
        .values_list("user_id")
    )


def _hidden_parts(viewer_id: int) -> list[QuerySet[Any, tuple[int]]]:
    blocked = Block.objects.filter(blocker_id=viewer_id).values_list("blocked_id")
    blockers = Block.objects.filter(blocked_id=viewer_id).values_list("blocker_id")
    return [blocked, blockers, _left_out(viewer_id, "discoverable")]


def visible_users_q(*, viewer_id: int) -> Q:
    """The ``User`` rows ``viewer_id`` may find, as a filter (subqueries, no query of its
    own): for listings the relational DB pages itself, such as user search."""
    visible = Q()
    for part in _hidden_parts(viewer_id):
        visible &= ~Q(pk__in=part)
    return visible


def _audience_sql(column: str) -> str:
    # Whose ``column`` (discoverable, taste_visible_to) leaves %(me)s out: nobody, or friends
    # without a friendship (``_left_out``'s rule as plain SQL).
    privacy = PrivacySettings._meta.db_table
    friendship = Friendship._meta.db_table
    return (
        f"SELECT p.user_id FROM {privacy} p WHERE p.user_id <> %(me)s "  # noqa: S608
        f"AND p.{column} <> %(everyone)s AND (p.{column} = %(nobody)s "
        f"OR NOT EXISTS (SELECT 1 FROM {friendship} f WHERE "
        f"(f.low_id = p.user_id AND f.high_id = %(me)s) "
        f"OR (f.high_id = p.user_id AND f.low_id = %(me)s)))"
    )


def _hidden_sql(*, taste: bool) -> str:
    # The rule of _hidden_parts as one plain statement: on a cold /me/buds page its cost is
    # the round trip, not Django compiling three querysets with subqueries (measured ~8x).
    block = Block._meta.db_table
    statement = (
        f"SELECT blocked_id FROM {block} WHERE blocker_id = %(me)s "  # noqa: S608
        f"UNION ALL SELECT blocker_id FROM {block} WHERE blocked_id = %(me)s "
        f"UNION ALL {_audience_sql('discoverable')}"
    )
    return f"{statement} UNION ALL {_audience_sql('taste_visible_to')}" if taste else statement


def hidden_user_ids_read(*, viewer_id: int, taste: bool = False) -> frozenset[int]:
    """Everyone ``viewer_id`` must not find in a listing (sync: one query): whoever blocked
    them or whom they blocked, whoever is discoverable by nobody, and whoever is discoverable
    by friends only and is not their friend (``visible_users_q`` is the same rule as a
    filter). ``taste``: also whoever's ``taste_visible_to`` leaves them out, for listings
    that are someone's taste (an item's buds: who holds it; recommendations: what my buds
    hold)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _hidden_sql(taste=taste),
            {"me": viewer_id, "everyone": Audience.EVERYONE, "nobody": Audience.NOBODY},
        )
        return frozenset(int(pk) for (pk,) in cursor.fetchall())


async def hidden_user_ids(*, viewer_id: int, taste: bool = False) -> frozenset[int]:
    """``hidden_user_ids_read`` from async code (one hop, one query)."""
    return await sync_to_async(hidden_user_ids_read)(viewer_id=viewer_id, taste=taste)


def blocked_between_read(first_id: int, second_id: int) -> bool:
    """A block either way between two users (sync: one query)."""
    return Block.objects.filter(
        Q(blocker_id=first_id, blocked_id=second_id) | Q(blocker_id=second_id, blocked_id=first_id)
    ).exists()


async def blocked_between(first_id: int, second_id: int) -> bool:
    return await sync_to_async(blocked_between_read)(first_id, second_id)


def are_friends_read(first_id: int, second_id: int) -> bool:
    low, high = sorted((first_id, second_id))
    return Friendship.objects.filter(low_id=low, high_id=high).exists()


def _audience_allows(audience: str, *, friends: bool) -> bool:
    return audience == Audience.EVERYONE or (audience == Audience.FRIENDS and friends)


def taste_visible_read(*, viewer_id: int, owner_id: int) -> bool:
    """Whether ``viewer_id`` may see ``owner_id``'s taste (sync: at most three queries):
    always their own; never across a block; otherwise as the owner's ``taste_visible_to``."""
    if viewer_id == owner_id:
        return True
    if blocked_between_read(viewer_id, owner_id):
        return False
    audience = (
        PrivacySettings.objects.filter(user_id=owner_id)
        .values_list("taste_visible_to", flat=True)
        .first()
    ) or Audience.EVERYONE
    if audience == Audience.EVERYONE:
        return True
    return _audience_allows(audience, friends=are_friends_read(viewer_id, owner_id))


async def taste_visible(*, viewer_id: int, owner_id: int) -> bool:
    return await sync_to_async(taste_visible_read)(viewer_id=viewer_id, owner_id=owner_id)


def taste_hidden_among_read(*, viewer_id: int, public_ids: Iterable[UUID]) -> frozenset[UUID]:
    """Those of ``public_ids`` whose ``taste_visible_to`` leaves ``viewer_id`` out (sync: one
    query). For the rows of a listing: the people in it are already visible (no block either
    way)."""
    return frozenset(
        User.objects.filter(
            public_id__in=list(public_ids), pk__in=_left_out(viewer_id, "taste_visible_to")
        ).values_list("public_id", flat=True)
    )


async def taste_hidden_among(*, viewer_id: int, public_ids: Iterable[UUID]) -> frozenset[UUID]:
    """``taste_hidden_among_read`` from async code (one hop)."""
    return await sync_to_async(taste_hidden_among_read)(
        viewer_id=viewer_id, public_ids=list(public_ids)
    )


def _unknown(username: str | None, public_id: UUID | None) -> NotFound:
    # Word for word what an unknown user gets: a block is never revealed.
    if public_id is not None:
        return NotFound(f"No user with id {public_id}", code="user_not_found")
    return NotFound(f"No user named {username!r}", code="user_not_found")


def visible_user_find_read(
    *, viewer_id: int, username: str | None = None, public_id: UUID | None = None
) -> User:
    """An active user by username (case-insensitive) or public id whom ``viewer_id`` may see
    (no block either way); NotFound, exactly as for an unknown user, otherwise (sync)."""
    if username is None and public_id is None:
        raise InvalidInput("Name the user by username or id", code="user_required")
    users = User.objects.filter(is_active=True)
    if public_id is not None:
        user = users.filter(public_id=public_id).first()
    else:
        user = users.filter(username__iexact=username).first()
    if user is None or (user.pk != viewer_id and blocked_between_read(viewer_id, user.pk)):
        raise _unknown(username, public_id)
    return user


async def visible_user_find(
    *, viewer_id: int, username: str | None = None, public_id: UUID | None = None
) -> UserRef:
    """``visible_user_find_read`` from async code (one hop)."""
    user = await sync_to_async(visible_user_find_read)(
        viewer_id=viewer_id, username=username, public_id=public_id
    )
    return UserRef(pk=user.pk, public_id=user.public_id)


async def taste_owner_find(
    *, viewer_id: int, username: str | None = None, public_id: UUID | None = None
) -> UserRef:
    """A user whose taste ``viewer_id`` may see (themselves included): NotFound as for an
    unknown user across a block, PermissionDenied (``taste_hidden``) when the owner's
    ``taste_visible_to`` leaves the viewer out."""
    owner = await visible_user_find(viewer_id=viewer_id, username=username, public_id=public_id)
    if not await taste_visible(viewer_id=viewer_id, owner_id=owner.pk):
        raise PermissionDenied("This person keeps their taste to themselves", code="taste_hidden")
    return owner
