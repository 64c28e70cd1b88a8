"""Buds endpoints: my buds (cached), what I share with someone, an item's buds,
recommendations."""

from __future__ import annotations

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
from api.pagination import Page, PageParams, first_link, next_link, offset_page
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
    arguments = _page_arguments(params)
    return [
        *buds_page_reads(user_id=request.auth.pk, **arguments),
        bud_count_get.cache_read(
            user_id=request.auth.pk, kind=arguments["kind"], source=arguments["source"]
        ),
    ]


# Rankings are keyset pages read forward (scores move as taste changes; an offset would skip
# or repeat people): their previous link is the first page's, once past it.
def _ranking_previous(request: AuthenticatedRequest, params: PageParams) -> str | None:
    return first_link(request) if params.cursor else None


def _page_arguments(params: BudsParams) -> dict[str, Any]:
    return {
        "kind": params.kind.item_kind if params.kind else None,
        "source": params.source,
        "limit": params.limit,
        "cursor": params.cursor,
    }


@router.get("/me/buds", response=BudsPageOut, url_name="my-buds")
@cached_answer(_my_buds_reads)
async def my_buds(request: AuthenticatedRequest, params: Query[BudsParams]) -> dict[str, object]:
    arguments = _page_arguments(params)
    page = await buds_page_get(user_id=request.auth.pk, **arguments)
    count = await bud_count_get(
        user_id=request.auth.pk, kind=arguments["kind"], source=arguments["source"]
    )
    return {
        "items": page.buds,
        "count": count,
        "next": next_link(request, page.next_cursor),
        "previous": _ranking_previous(request, params),
    }


@router.get("/me/buds/{username}/common", response=Page[SharedItemOut], url_name="common-items")
async def common(
    request: AuthenticatedRequest, username: str, params: Query[CommonParams]
) -> dict[str, object]:
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


@router.get("/catalogue/{kind}/{item_id}/buds", response=Page[BudOut], url_name="item-buds")
async def item_buds(
    request: AuthenticatedRequest, kind: KindPath, item_id: UUID, params: Query[PageParams]
) -> dict[str, object]:
    page = await item_buds_get(
        kind=kind.item_kind, public_id=item_id, limit=params.limit, cursor=params.cursor
    )
    return {
        "items": page.buds,
        "count": await item_bud_total_get(kind=kind.item_kind, public_id=item_id),
        "next": next_link(request, page.next_cursor),
        "previous": _ranking_previous(request, params),
    }


@router.get("/me/recommendations", response=Page[RecommendationOut], url_name="recommendations")
async def recommendations(
    request: AuthenticatedRequest, params: Query[RecommendationParams]
) -> dict[str, object]:
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
