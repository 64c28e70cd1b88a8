"""Buds endpoints: my buds (cached), what I share with someone, an item's buds,
recommendations."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from uuid import UUID

from ninja import Query, Router

from api.auth import AuthenticatedRequest, auth
from api.buds.schemas import (
    BudOut,
    BudsParams,
    CommonParams,
    RecommendationOut,
    RecommendationParams,
    SharedItemOut,
)
from api.cached_answers import cached_answer
from api.catalogue.schemas import KindPath
from api.openapi import also_answers
from api.pagination import Page, PageParams, next_link, offset_page
from fastpath.read_ahead import CacheRead
from graph.types import Recommendation, SharedItem
from musicbud.selectors.buds import (
    bud_count_get,
    buds_page_get,
    buds_page_reads,
    common_items_get,
    item_bud_total_get,
    item_buds_get,
    recommendations_get,
    shared_items_carded,
)

router = Router(tags=["buds"], auth=auth)


BudsPageOut = Page[BudOut]


def _my_buds_reads(request: AuthenticatedRequest, params: BudsParams) -> list[CacheRead]:
    return my_buds_cache_reads(user_id=request.auth.pk, arguments=page_arguments(params))


def my_buds_cache_reads(*, user_id: int, arguments: dict[str, Any]) -> list[CacheRead]:
    """The cache reads ``my_buds`` makes: the page and the count (the lane reads them too)."""
    return [
        *buds_page_reads(user_id=user_id, **arguments),
        bud_count_get.cache_read(
            user_id=user_id, kind=arguments["kind"], source=arguments["source"]
        ),
    ]


def page_arguments(params: BudsParams) -> dict[str, Any]:
    return {
        "kind": params.kind.item_kind if params.kind else None,
        "source": params.source,
        "limit": params.limit,
        "cursor": params.cursor,
    }


@router.get(
    "/me/buds",
    response=BudsPageOut,
    url_name="my-buds",
    summary="My buds: people whose taste is like mine",
)
@cached_answer(_my_buds_reads)
async def my_buds(request: AuthenticatedRequest, params: Query[BudsParams]) -> dict[str, object]:
    """Best first by score: shared items weighted by how few others hold them, over both library
    sizes. `kind` and `source` (likes, top, played, all) narrow what counts. Each bud carries
    the shared items that weigh most (never one that weighs nothing). Cached, its count too;
    pages follow a keyset cursor both ways, so none repeats or skips a bud: `next` reads on
    from the page's last bud, `previous` the page just before its first (same filters and
    limit; null on the first page)."""
    arguments = page_arguments(params)
    page = await buds_page_get(user_id=request.auth.pk, **arguments)
    count = await bud_count_get(
        user_id=request.auth.pk, kind=arguments["kind"], source=arguments["source"]
    )
    return {
        "items": page.buds,
        "count": count,
        "next": next_link(request, page.next_cursor),
        "previous": next_link(request, page.previous_cursor),
    }


@router.get(
    "/me/buds/{username}/common",
    response=Page[SharedItemOut],
    url_name="common-items",
    summary="What I share with someone",
    # 403 taste_hidden: their taste_visible_to leaves me out.
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
)
async def common(
    request: AuthenticatedRequest, username: str, params: Query[CommonParams]
) -> dict[str, object]:
    """The items `username` and I both have (optionally of one `kind`), heaviest first, each
    with its weight in our score. 404 for an unknown user; myself is a 422 `same_user`."""
    shared = await common_items_get(
        user_id=request.auth.pk,
        username=username,
        kind=params.kind.item_kind if params.kind else None,
    )

    async def rows(*, offset: int, limit: int) -> list[SharedItem]:
        return await shared_items_carded(shared[offset : offset + limit + 1])

    async def count() -> int:
        return len(shared)

    return await offset_page(request, params, rows, count=count)


@router.get(
    "/catalogue/{kind}/{item_id}/buds",
    response=Page[BudOut],
    url_name="item-buds",
    summary="People for whom an item means most",
)
async def item_buds(
    request: AuthenticatedRequest, kind: KindPath, item_id: UUID, params: Query[PageParams]
) -> dict[str, object]:
    """The users holding the item, ranked by how much of their library it is (and how rare it
    is), best first. 404 for an unknown item. Keyset pages, as my buds': `previous` is the
    page just before this one (same limit), null on the first."""
    page = await item_buds_get(
        viewer_id=request.auth.pk,
        kind=kind.item_kind,
        public_id=item_id,
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "items": page.buds,
        "count": await item_bud_total_get(
            viewer_id=request.auth.pk, kind=kind.item_kind, public_id=item_id
        ),
        "next": next_link(request, page.next_cursor),
        "previous": next_link(request, page.previous_cursor),
    }


@router.get(
    "/me/recommendations",
    response=Page[RecommendationOut],
    url_name="recommendations",
    summary="Items my buds have and I do not",
)
async def recommendations(
    request: AuthenticatedRequest, params: Query[RecommendationParams]
) -> dict[str, object]:
    """Items (of `kind`, or of every kind, best first) that my top buds hold and I do not,
    scored by how many of them hold it and how close they are to me; at most 1,000."""
    total = 0

    async def rows(*, offset: int, limit: int) -> list[Recommendation]:
        nonlocal total
        ranked = await recommendations_get(
            user_id=request.auth.pk,
            kind=params.kind.item_kind if params.kind else None,
            offset=offset,
            limit=limit,
        )
        total = ranked.total
        return ranked.recommendations

    async def count() -> int:
        return total  # read with the page

    return await offset_page(request, params, rows, count=count)
