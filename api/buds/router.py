"""Buds endpoints: my buds (cached), what I share with someone, an item's buds,
recommendations."""

from __future__ import annotations

from functools import partial
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


@router.get("/me/buds", response=BudsPageOut, url_name="my-buds")
@cached_answer(_my_buds_reads)
async def my_buds(request: AuthenticatedRequest, params: Query[BudsParams]) -> dict[str, object]:
    page = await buds_page_get(user_id=request.auth.pk, **_page_arguments(params))
    return {"items": page.buds, "next": next_link(request, page.next_cursor)}


@router.get(
    "/me/buds/{username}/common",
    response=Page[SharedItemOut],
    url_name="common-items",
    # 403 taste_hidden: their taste_visible_to leaves me out.
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
)
async def common(
    request: AuthenticatedRequest, username: str, params: Query[CommonParams]
) -> dict[str, object]:
    async def rows(*, offset: int, limit: int) -> list[SharedItem]:
        shared = await common_items_get(
            user_id=request.auth.pk,
            username=username,
            kind=params.kind.item_kind if params.kind else None,
        )
        return shared[offset : offset + limit + 1]

    return await offset_page(request, params, rows)


@router.get("/catalogue/{kind}/{item_id}/buds", response=Page[BudOut], url_name="item-buds")
async def item_buds(
    request: AuthenticatedRequest, kind: KindPath, item_id: UUID, params: Query[PageParams]
) -> dict[str, object]:
    page = await item_buds_get(
        viewer_id=request.auth.pk,
        kind=kind.item_kind,
        public_id=item_id,
        limit=params.limit,
        cursor=params.cursor,
    )
    return {"items": page.buds, "next": next_link(request, page.next_cursor)}


@router.get("/me/recommendations", response=Page[RecommendationOut], url_name="recommendations")
async def recommendations(
    request: AuthenticatedRequest, params: Query[RecommendationParams]
) -> dict[str, object]:
    return await offset_page(
        request,
        params,
        partial(recommendations_get, user_id=request.auth.pk, kind=params.kind.item_kind),
    )
