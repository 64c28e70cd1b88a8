"""Catalogue endpoints: search by name and item detail."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router

from api.auth import auth
from api.catalogue.schemas import CatalogueSearchParams, ItemDetailOut, ItemOut, KindPath
from api.pagination import Page, offset_page
from musicbud.errors import InvalidInput
from musicbud.kinds import KIND_SPECS
from musicbud.models import CatalogueItem
from musicbud.selectors.catalogue import catalogue_count, catalogue_item_get, catalogue_search

router = Router(tags=["catalogue"], auth=auth)


@router.get("/catalogue/{kind}", response=Page[ItemOut], url_name="catalogue-search")
async def search(
    request: HttpRequest, kind: KindPath, params: Query[CatalogueSearchParams]
) -> dict[str, object]:
    related = params.related()
    spec = KIND_SPECS[kind.item_kind]
    unknown = [name for name in related if name not in spec.filters]
    if unknown:
        message = f"{kind.value} are not filtered by {' or '.join(unknown)}"
        raise InvalidInput(
            message,
            code="validation_error",
            details=[
                {"field": f"query.{name}", "message": message, "type": "filter_not_applicable"}
                for name in unknown
            ],
        )
    return await offset_page(
        request,
        params,
        partial(catalogue_search, kind=kind.item_kind, query=params.q, related=related),
        count=partial(catalogue_count, kind=kind.item_kind, query=params.q, related=related),
    )


@router.get("/catalogue/{kind}/{item_id}", response=ItemDetailOut, url_name="catalogue-item")
async def detail(request: HttpRequest, kind: KindPath, item_id: UUID) -> CatalogueItem:
    return await catalogue_item_get(kind=kind.item_kind, public_id=item_id)
