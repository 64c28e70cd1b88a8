"""Reads of the catalogue: search by name, one item with its relations."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Lower

from musicbud.errors import NotFound
from musicbud.kinds import ITEM_MODELS, KIND_BY_MODEL, KIND_SPECS
from musicbud.models import CatalogueItem, ItemKind


def item_kind(item: CatalogueItem) -> str:
    """The ``ItemKind`` value of a catalogue row."""
    return KIND_BY_MODEL[type(item)]


def _with_relations(kind: str) -> QuerySet[Any]:
    """A queryset loading what the item detail shows, in a fixed number of queries."""
    spec = KIND_SPECS[ItemKind(kind)]
    queryset: QuerySet[Any] = spec.model._default_manager.all()
    # select_related() with no names would follow every foreign key.
    if spec.detail_select:
        queryset = queryset.select_related(*spec.detail_select)
    if spec.detail_prefetch:
        queryset = queryset.prefetch_related(*spec.detail_prefetch)
    return queryset


async def catalogue_search(
    *, kind: str, query: str | None, offset: int, limit: int
) -> list[CatalogueItem]:
    """Items whose name contains ``query`` (case-insensitive), prefix matches first.

    Returns up to ``limit + 1`` rows from ``offset`` so the caller knows whether a next page
    exists. Without a query every item is listed by name.
    """
    queryset: QuerySet[CatalogueItem] = ITEM_MODELS[ItemKind(kind)]._default_manager.all()
    if query:
        queryset = queryset.filter(name__icontains=query).annotate(
            match_rank=Case(
                When(name__istartswith=query, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        queryset = queryset.order_by("match_rank", Lower("name"), "id")
    else:
        queryset = queryset.order_by(Lower("name"), "id")
    return [item async for item in queryset[offset : offset + limit + 1]]


async def catalogue_item_get(*, kind: str, public_id: UUID) -> CatalogueItem:
    """One item with its artists / album / genres loaded; NotFound when there is none."""
    items: list[CatalogueItem] = [
        item async for item in _with_relations(kind).filter(public_id=public_id)
    ]
    if not items:
        raise NotFound(f"No {kind} with id {public_id}")
    return items[0]


async def catalogue_items_get(*, kind: str, public_ids: list[UUID]) -> dict[UUID, CatalogueItem]:
    """Items of one kind by public id with their relations loaded (one thread hop)."""
    queryset = _with_relations(kind).filter(public_id__in=public_ids)
    return {item.public_id: item async for item in queryset}


def catalogue_item_lookup(*, kind: str, public_id: UUID) -> CatalogueItem:
    """The item row by public id (sync, for services running inside one hop)."""
    model = ITEM_MODELS[ItemKind(kind)]
    try:
        return model._default_manager.get(public_id=public_id)
    except model.DoesNotExist as exc:
        raise NotFound(f"No {kind} with id {public_id}") from exc
