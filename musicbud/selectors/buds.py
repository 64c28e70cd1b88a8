"""Reads of buds: my bud pages (cached), what I share with someone, an item's buds,
recommendations. The graph layer computes them; this module resolves public ids and caches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from uuid import UUID

from django.conf import settings

from fastpath.read_ahead import CacheRead
from graph import queries
from graph.scoring import MAX_LIMIT, round_score
from graph.types import Bud, BudPage, BudSource, Recommendation, SharedItem
from musicbud.cache import cached_query
from musicbud.cache_keys import BUD_PAGE_SHAPE, BUDS, buds_generation_key
from musicbud.errors import InvalidInput, NotFound
from musicbud.kinds import ITEM_MODELS, KINDS
from musicbud.models import ItemKind
from musicbud.relationships.visibility import (
    hidden_user_ids,
    taste_hidden_among,
    taste_owner_find,
)
from musicbud.selectors.catalogue import card_of, item_cards_get
from musicbud.selectors.users import UserRef

# How many recommendations a list holds at most (its count included).
RECOMMENDATIONS_MAX = 1_000

# How far (in pages of MAX_LIMIT, 1,000 buds) a bud's score is looked up in my ranking before
# it is summed from what we share.
SCORE_LOOKUP_PAGES = 10


def _page_key(
    *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
) -> str:
    return (
        f"{user_id}:p{BUD_PAGE_SHAPE}:{kind or 'any'}:{BudSource(source).value}:{limit}:"
        f"{cursor or ''}"
    )


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
    once; changes of other people show when the entry's TTL runs out, but a change of who
    may see whom (a block, a privacy setting, a friendship) bumps the generation of everyone
    it concerns (``musicbud.relationships.caches``). The people the user may not find are
    left out inside the ranking; those whose taste is hidden from the user are listed without
    the items we share (``taste_hidden``).
    """
    page = await queries.buds_for_user(
        user_id=user_id,
        kind=kind,
        source=source,
        limit=limit,
        cursor=cursor,
        hidden=await hidden_user_ids(viewer_id=user_id),
    )
    taste_hidden = (
        await taste_hidden_among(
            viewer_id=user_id, public_ids=(bud.user_public_id for bud in page.buds)
        )
        if page.buds
        else frozenset()
    )
    if taste_hidden:
        page = replace(
            page,
            buds=[
                replace(bud, top_shared=[], taste_hidden=True)
                if bud.user_public_id in taste_hidden
                else bud
                for bud in page.buds
            ],
        )
    return await _carded_buds(page)


async def _carded_buds(page: BudPage) -> BudPage:
    """The page with each shared item's card (images, credits) in place of its ref: one
    batch of queries for the page, so a cached page needs none."""
    cards = await item_cards_get(shared.item for bud in page.buds for shared in bud.top_shared)
    return replace(
        page,
        buds=[
            replace(
                bud,
                top_shared=[
                    replace(shared, item=card_of(cards, shared.item)) for shared in bud.top_shared
                ],
            )
            for bud in page.buds
        ],
    )


async def shared_items_carded(shared: Iterable[SharedItem]) -> list[SharedItem]:
    """The shared items with their cards in place of their refs (one batch of queries)."""
    rows = list(shared)
    cards = await item_cards_get(row.item for row in rows)
    return [replace(row, item=card_of(cards, row.item)) for row in rows]


def buds_page_reads(
    *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
) -> list[CacheRead]:
    """The cache read ``buds_page_get`` with these arguments makes (for ``reads_ahead``)."""
    return [
        buds_page_get.cache_read(
            user_id=user_id, kind=kind, source=source, limit=limit, cursor=cursor
        )
    ]


def _count_key(*, user_id: int, kind: str | None, source: BudSource) -> str:
    # Never a page's key: those have a limit and a cursor after the source.
    return f"{user_id}:{kind or 'any'}:{BudSource(source).value}:count"


@cached_query(
    BUDS,
    ttl=lambda: settings.BUDS_CACHE_TTL_SECONDS,
    key=_count_key,
    generation=lambda *, user_id, **_: buds_generation_key(user_id),
    shared=True,
)
async def bud_count_get(*, user_id: int, kind: str | None, source: BudSource) -> int:
    """How many buds the pages of ``buds_page_get`` hold in all; cached as they are."""
    return await queries.bud_count(
        user_id=user_id, kind=kind, source=source, hidden=await hidden_user_ids(viewer_id=user_id)
    )


@dataclass(frozen=True, slots=True)
class RankingSlice:
    """Some consecutive buds of a ranking, and how many the whole ranking holds."""

    buds: list[Bud]
    total: int


async def _ranking_slice(
    fetch: Callable[[str | None], Awaitable[BudPage]],
    count: Callable[[], Awaitable[int]],
    *,
    offset: int,
    limit: int,
    exclude: UUID | None = None,
) -> RankingSlice:
    """Buds ``offset`` to ``offset + limit`` of the ranking ``fetch`` pages through (but
    ``exclude``), walking its pages from the first only as far as the slice; ``count`` is the
    total, asked only when the walk stops before the last page."""
    if offset >= MAX_LIMIT:  # past the first page: a slice past the end walks nothing
        total = await count()
        if offset >= total:
            return RankingSlice(buds=[], total=total)
    buds: list[Bud] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        buds.extend(bud for bud in page.buds if bud.user_public_id != exclude)
        if page.next_cursor is None:
            return RankingSlice(buds=buds[offset : offset + limit], total=len(buds))
        if len(buds) >= offset + limit:
            # More follow (at least one): the count, never less than what the walk saw.
            total = max(await count(), len(buds) + 1)
            return RankingSlice(buds=buds[offset : offset + limit], total=total)
        cursor = page.next_cursor


async def buds_slice_get(
    *, user_id: int, kind: str | None, source: BudSource, offset: int, limit: int
) -> RankingSlice:
    """Buds ``offset`` to ``offset + limit`` of the user's ranking and its total: the pages of
    ``buds_page_get`` (cached each) from the first, and ``bud_count_get`` (cached) when the
    slice ends before the ranking does. The first slice of a ranking that fits one page
    (100 buds) is one cached read."""
    return await _ranking_slice(
        lambda cursor: buds_page_get(
            user_id=user_id, kind=kind, source=source, limit=MAX_LIMIT, cursor=cursor
        ),
        lambda: bud_count_get(user_id=user_id, kind=kind, source=source),
        offset=offset,
        limit=limit,
    )


async def taste_other_user(
    *, user_id: int, username: str | None = None, public_id: UUID | None = None
) -> UserRef:
    """Another user whose taste I may see (``taste_owner_find``), never myself."""
    other = await taste_owner_find(viewer_id=user_id, username=username, public_id=public_id)
    if other.pk == user_id:
        raise InvalidInput("That is you: pick another user", code="same_user")
    return other


async def common_items_get(
    *,
    user_id: int,
    kind: str | None,
    username: str | None = None,
    public_id: UUID | None = None,
    source: BudSource = BudSource.ALL,
) -> list[SharedItem]:
    """What I share with the user named (or of that public id) in ``source``, heaviest
    first; NotFound for an unknown user (or one across a block), PermissionDenied when their
    taste is hidden from me."""
    other = await taste_other_user(user_id=user_id, username=username, public_id=public_id)
    return await queries.common_items(user_id=user_id, other_id=other.pk, kind=kind, source=source)


async def bud_score_get(
    *, user_id: int, username: str | None = None, public_id: UUID | None = None
) -> float:
    """How alike my taste and that user's are: their score in my ranking (every taste, every
    kind; its cached pages, from the first), or for someone ranked beyond
    ``SCORE_LOOKUP_PAGES`` (or not listed: not discoverable by me) the weights of what we
    share, which add up to the same score. It is their taste, as compatibility is: NotFound
    for an unknown user (or one across a block), PermissionDenied when their taste is hidden
    from me (``taste_other_user``)."""
    other = await taste_other_user(user_id=user_id, username=username, public_id=public_id)
    cursor: str | None = None
    for _ in range(SCORE_LOOKUP_PAGES):
        page = await buds_page_get(
            user_id=user_id, kind=None, source=BudSource.ALL, limit=MAX_LIMIT, cursor=cursor
        )
        for bud in page.buds:
            if bud.user_public_id == other.public_id:
                return bud.score
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    shared = await queries.common_items(user_id=user_id, other_id=other.pk, kind=None)
    return round_score(sum(item.weight for item in shared))


async def _item_id(*, kind: str, public_id: UUID) -> int:
    model = ITEM_MODELS[ItemKind(kind)]
    item_id = (
        await model._default_manager.filter(public_id=public_id)
        .values_list("pk", flat=True)
        .afirst()
    )
    if item_id is None:
        raise NotFound(f"No {kind} with id {public_id}", code="item_not_found")
    return int(item_id)


async def item_buds_get(
    *, viewer_id: int, kind: str, public_id: UUID, limit: int, cursor: str | None
) -> BudPage:
    """The people for whom an item means most, but those ``viewer_id`` may not find;
    NotFound for an unknown item."""
    item_id = await _item_id(kind=kind, public_id=public_id)
    page = await queries.buds_for_item(
        kind=kind,
        item_id=item_id,
        limit=limit,
        cursor=cursor,
        hidden=await hidden_user_ids(viewer_id=viewer_id, taste=True),
    )
    return await _carded_buds(page)


async def item_bud_total_get(*, viewer_id: int, kind: str, public_id: UUID) -> int:
    """How many people the pages of ``item_buds_get`` hold in all (but those ``viewer_id``
    may not find, as there); NotFound for an unknown item."""
    item_id = await _item_id(kind=kind, public_id=public_id)
    return await queries.item_bud_count(
        kind=kind,
        item_id=item_id,
        exclude_user_id=None,
        hidden=await hidden_user_ids(viewer_id=viewer_id, taste=True),
    )


async def item_buds_slice_get(
    *, kind: str, public_id: UUID, exclude: UserRef, offset: int, limit: int
) -> RankingSlice:
    """People ``offset`` to ``offset + limit`` of everyone but ``exclude`` (me) an item means
    something to, those for whom it means most first, and how many there are in all;
    NotFound for an unknown item."""
    item_id = await _item_id(kind=kind, public_id=public_id)
    hidden = await hidden_user_ids(viewer_id=exclude.pk, taste=True)
    return await _ranking_slice(
        lambda cursor: queries.buds_for_item(
            kind=kind, item_id=item_id, limit=MAX_LIMIT, cursor=cursor, hidden=hidden
        ),
        lambda: queries.item_bud_count(
            kind=kind, item_id=item_id, exclude_user_id=exclude.pk, hidden=hidden
        ),
        offset=offset,
        limit=limit,
        exclude=exclude.public_id,
    )


@dataclass(frozen=True, slots=True)
class RecommendationSlice:
    """Some consecutive recommendations (with their items' cards), and how many there are."""

    recommendations: list[Recommendation]
    total: int


async def recommendations_get(
    *, user_id: int, kind: str | None, offset: int, limit: int
) -> RecommendationSlice:
    """Items (of a kind, or of every kind) my top buds (those I may find) have and I do not,
    best first, and how many there are (at most ``RECOMMENDATIONS_MAX``).

    The slice holds up to ``limit + 1`` from ``offset`` (the extra one signals a next page).
    """
    kinds = [ItemKind(kind).value] if kind is not None else [spec.kind.value for spec in KINDS]
    # Drawn from the buds I may find and whose taste I may see: their items are their taste.
    hidden = await hidden_user_ids(viewer_id=user_id, taste=True)
    ranked: list[Recommendation] = []
    for each in kinds:
        ranked.extend(
            await queries.recommendations(
                user_id=user_id, kind=each, limit=RECOMMENDATIONS_MAX, hidden=hidden
            )
        )
    order = {value: index for index, value in enumerate(kinds)}
    ranked.sort(key=lambda r: (-r.score, order[r.item.kind], r.item.name, r.item.public_id))
    ranked = ranked[:RECOMMENDATIONS_MAX]
    on_page = ranked[offset : offset + limit + 1]
    cards = await item_cards_get(row.item for row in on_page)
    return RecommendationSlice(
        recommendations=[replace(row, item=card_of(cards, row.item)) for row in on_page],
        total=len(ranked),
    )
