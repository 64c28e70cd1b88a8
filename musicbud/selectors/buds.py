"""Reads of buds: my bud pages (cached), what I share with someone, an item's buds,
recommendations. The graph layer computes them; this module resolves public ids and caches."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings

from fastpath.read_ahead import CacheRead
from graph import queries
from graph.types import BudPage, BudSource, Recommendation, SharedItem
from musicbud.cache import cached_query
from musicbud.cache_keys import BUDS, buds_generation_key
from musicbud.errors import InvalidInput, NotFound
from musicbud.models import ITEM_MODELS, ItemKind
from musicbud.selectors.users import active_user_id_get


def _page_key(
    *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
) -> str:
    return f"{user_id}:{kind or 'any'}:{BudSource(source).value}:{limit}:{cursor or ''}"


@cached_query(
    BUDS,
    ttl=lambda: settings.BUDS_CACHE_TTL_SECONDS,
    key=_page_key,
    generation=lambda *, user_id, **_: buds_generation_key(user_id),
    shared=True,
)
async def buds_page_get(
    *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
) -> BudPage:
    """One page of the user's buds; a warm read is one cache round trip (no query, no hop).
    The page is immutable by contract: a cached copy is shared by the requests reading it.

    The key carries the user's taste generation, so their own taste changes take effect at
    once; changes of other people show when the entry's TTL runs out.
    """
    return await queries.buds_for_user(
        user_id=user_id, kind=kind, source=source, limit=limit, cursor=cursor
    )


def buds_page_reads(
    *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
) -> list[CacheRead]:
    """The cache read ``buds_page_get`` with these arguments makes (for ``reads_ahead``)."""
    return [
        buds_page_get.cache_read(
            user_id=user_id, kind=kind, source=source, limit=limit, cursor=cursor
        )
    ]


async def common_items_get(*, user_id: int, username: str, kind: str | None) -> list[SharedItem]:
    """What I share with the named user, heaviest first; NotFound for an unknown user."""
    other_id = await active_user_id_get(username=username)
    if other_id == user_id:
        raise InvalidInput("That is you: pick another user", code="same_user")
    return await queries.common_items(user_id=user_id, other_id=other_id, kind=kind)


async def item_buds_get(*, kind: str, public_id: UUID, limit: int, cursor: str | None) -> BudPage:
    """The people for whom an item means most; NotFound for an unknown item."""
    model = ITEM_MODELS[ItemKind(kind)]
    item_id = (
        await model._default_manager.filter(public_id=public_id)
        .values_list("pk", flat=True)
        .afirst()
    )
    if item_id is None:
        raise NotFound(f"No {kind} with id {public_id}")
    return await queries.buds_for_item(kind=kind, item_id=item_id, limit=limit, cursor=cursor)


async def recommendations_get(
    *, user_id: int, kind: str, offset: int, limit: int
) -> list[Recommendation]:
    """Items of a kind my top buds have and I do not, best first.

    Returns up to ``limit + 1`` from ``offset`` (the extra one signals a next page).
    """
    ranked = await queries.recommendations(user_id=user_id, kind=kind, limit=offset + limit + 1)
    return ranked[offset : offset + limit + 1]
