"""Reads of user profiles: the cached profile with taste counts, user search."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from fastpath.read_ahead import CacheRead
from musicbud.cache import cached_query
from musicbud.cache_keys import PROFILE, profile_generation_key
from musicbud.errors import NotFound
from musicbud.models import ItemKind, Relation, TasteEdge, User
from musicbud.relationships.visibility import taste_visible, visible_user_find, visible_users_q


@dataclass(frozen=True, slots=True)
class TasteCounts:
    """Edges per relation, by kind."""

    likes: dict[str, int]
    top: dict[str, int]
    played: dict[str, int]


@dataclass(frozen=True, slots=True)
class ProfileData:
    """Everything a profile response needs; plain data so it caches (pickles) safely.

    Immutable by contract (never modified after it is built): a cached copy is shared by the
    requests that read the same cache entry.
    """

    user_id: int
    public_id: UUID
    username: str
    email: str
    display_name: str
    bio: str
    avatar_url: str
    first_name: str
    last_name: str
    location: str
    date_joined: datetime
    # None: hidden from the viewer (their taste_visible_to), on someone else's profile only.
    taste_counts: TasteCounts | None


def taste_counts_read(*, user_id: int) -> TasteCounts:
    """Edges per relation and kind (every kind present, zero when none), in one query.

    Counted in the relational DB, the source of truth: the profile is rebuilt right after my
    own taste write commits, before a Neo4j projection may have caught up.
    """
    counts: dict[str, dict[str, int]] = {
        relation: dict.fromkeys(ItemKind.values, 0) for relation in Relation.values
    }
    rows = (
        TasteEdge.objects.filter(user_id=user_id)
        .values_list("relation", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for relation, kind, n in rows:
        counts[relation][kind] = n
    return TasteCounts(
        likes=counts[Relation.LIKE], top=counts[Relation.TOP], played=counts[Relation.PLAYED]
    )


def _profile_load(user_id: int) -> ProfileData:
    try:
        user = User.objects.get(pk=user_id, is_active=True)
    except User.DoesNotExist as exc:
        raise NotFound("No such user", code="user_not_found") from exc
    return ProfileData(
        user_id=user.pk,
        public_id=user.public_id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=user.avatar_url,
        first_name=user.first_name,
        last_name=user.last_name,
        location=user.location,
        date_joined=user.date_joined,
        taste_counts=taste_counts_read(user_id=user.pk),
    )


@cached_query(
    PROFILE,
    ttl=lambda: settings.PROFILE_CACHE_TTL_SECONDS,
    key=lambda *, user_id: str(user_id),
    generation=lambda *, user_id: profile_generation_key(user_id),
    shared=True,
)
async def profile_get(*, user_id: int) -> ProfileData:
    """The profile, from the cache when warm (no ORM query, no thread hop)."""
    return await sync_to_async(_profile_load)(user_id)


def profile_reads(*, user_id: int) -> list[CacheRead]:
    """The cache read ``profile_get`` makes (for ``reads_ahead``)."""
    return [profile_get.cache_read(user_id=user_id)]


async def profile_refresh(*, user_id: int) -> ProfileData:
    """Reload the profile and cache it (after a write, so the writer reads its own change)."""
    return await profile_get.refresh(user_id=user_id)


async def public_profile_get(
    *, viewer_id: int, username: str | None = None, public_id: UUID | None = None
) -> ProfileData:
    """An active user's profile by username (case-insensitive) or public id, as ``viewer_id``
    may see it (no taste counts when the owner's ``taste_visible_to`` leaves the viewer out);
    NotFound otherwise, and across a block either way (as for an unknown user)."""
    user = await visible_user_find(viewer_id=viewer_id, username=username, public_id=public_id)
    profile = await profile_get(user_id=user.pk)
    if user.pk != viewer_id and not await taste_visible(viewer_id=viewer_id, owner_id=user.pk):
        return replace(profile, taste_counts=None)
    return profile


def _search_matches(*, query: str, exclude_id: int) -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True)
        .filter(Q(username__icontains=query) | Q(display_name__icontains=query))
        .filter(visible_users_q(viewer_id=exclude_id))
        .exclude(pk=exclude_id)
    )


async def user_search_count(*, query: str, exclude_id: int) -> int:
    """How many users ``user_search`` finds in all."""
    return await _search_matches(query=query, exclude_id=exclude_id).acount()


async def user_search(*, query: str, exclude_id: int, offset: int, limit: int) -> list[User]:
    """Active users whose username or display name contains ``query`` (case-insensitive),
    those whose username starts with it first, then by username; never those the searcher
    (``exclude_id``) may not find (``musicbud.relationships.visibility``).

    Returns up to ``limit + 1`` rows from ``offset`` (the extra one signals a next page).
    """
    queryset = (
        _search_matches(query=query, exclude_id=exclude_id)
        .annotate(
            match_rank=Case(
                When(username__istartswith=query, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("match_rank", Lower("username"), "id")
        .only("public_id", "username", "display_name", "bio", "avatar_url")
    )
    return [user async for user in queryset[offset : offset + limit + 1]]
