"""Buds endpoints: my buds (cached), what I share with someone, an item's buds,
recommendations."""

from __future__ import annotations

from functools import partial
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
from api.pagination import Page, PageParams, next_link, offset_page
from fastpath.read_ahead import CacheRead
from graph.types import SharedItem
from musicbud.selectors.buds import (
    buds_page_get,
    buds_page_reads,
    common_items_get,
    item_buds_get,
    recommendations_get,
)

router = Router(tags=["buds"], auth=auth)


BudsPageOut = Page[BudOut]


def _my_buds_reads(request: AuthenticatedRequest, params: BudsParams) -> list[CacheRead]:
    return buds_page_reads(user_id=request.auth.pk, **_page_arguments(params))


def _page_arguments(params: BudsParams) -> dict[str, Any]:
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
    the shared items that weigh most. Cached; pages follow a keyset cursor, so none repeats or
    skips a bud."""
    page = await buds_page_get(user_id=request.auth.pk, **_page_arguments(params))
    return {"items": page.buds, "next": next_link(request, page.next_cursor)}


@router.get(
    "/me/buds/{username}/common",
    response=Page[SharedItemOut],
    url_name="common-items",
    summary="What I share with someone",
)
async def common(
    request: AuthenticatedRequest, username: str, params: Query[CommonParams]
) -> dict[str, object]:
    """The items `username` and I both have (optionally of one `kind`), heaviest first, each
    with its weight in our score. 404 for an unknown user; myself is a 422 `same_user`."""

    async def rows(*, offset: int, limit: int) -> list[SharedItem]:
        shared = await common_items_get(
            user_id=request.auth.pk,
            username=username,
            kind=params.kind.item_kind if params.kind else None,
        )
        return shared[offset : offset + limit + 1]

    return await offset_page(request, params, rows)


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
    is), best first. 404 for an unknown item."""
    page = await item_buds_get(
        kind=kind.item_kind, public_id=item_id, limit=params.limit, cursor=params.cursor
    )
    return {"items": page.buds, "next": next_link(request, page.next_cursor)}


@router.get(
    "/me/recommendations",
    response=Page[RecommendationOut],
    url_name="recommendations",
    summary="Items my buds have and I do not",
)
async def recommendations(
    request: AuthenticatedRequest, params: Query[RecommendationParams]
) -> dict[str, object]:
    """Items of `kind` that my top buds hold and I do not, scored by how many of them hold it
    and how close they are to me."""
    return await offset_page(
        request,
        params,
        partial(recommendations_get, user_id=request.auth.pk, kind=params.kind.item_kind),
    )
