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


@router.get(
    "/catalogue/{kind}",
    response=Page[ItemOut],
    url_name="catalogue-search",
    summary="Search the catalogue by name",
)
async def search(
    request: HttpRequest, kind: KindPath, params: Query[CatalogueSearchParams]
) -> dict[str, object]:
    """Items of one kind (`tracks`, `artists`, `albums`, `genres`) whose name contains `q`,
    case-insensitive: names starting with `q` first. Without `q`, every item by name."""
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


@router.get(
    "/catalogue/{kind}/{item_id}",
    response=ItemDetailOut,
    url_name="catalogue-item",
    summary="One catalogue item",
)
async def detail(request: HttpRequest, kind: KindPath, item_id: UUID) -> CatalogueItem:
    """The item with what it relates to: a track's artists, album and duration, an album's
    artists and release year, an artist's genres. 404 for an unknown id of that kind."""
    return await catalogue_item_get(kind=kind.item_kind, public_id=item_id)
