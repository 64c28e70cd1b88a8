"""Reads of the catalogue: search by name, one item with its relations, and the item cards
every list shows (an item with its images and the related items its kind lists)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from graph.types import ItemRef
from musicbud.errors import NotFound
from musicbud.kinds import ITEM_MODELS, KIND_BY_MODEL, KIND_SPECS, KindSpec
from musicbud.models import CatalogueItem, ItemKind, Provider


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


# --- item cards --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemCard(ItemRef):
    """An item as every list shows it: its ref, provider ids, images (``{"url", "width",
    "height"}``, widest first, as the provider gave them) and the related items its kind lists
    (``KindSpec.list_select``: one or none each, ``list_prefetch``: several each), by name."""

    external_ids: Mapping[str, str] = field(default_factory=dict)
    images: tuple[Mapping[str, Any], ...] = ()
    one: Mapping[str, ItemRef | None] = field(default_factory=dict)
    many: Mapping[str, tuple[ItemRef, ...]] = field(default_factory=dict)


def item_ref(item: CatalogueItem) -> ItemRef:
    return ItemRef(kind=item_kind(item), public_id=item.public_id, name=item.name)


def images_of(raw: object) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        {"url": image["url"], "width": image.get("width"), "height": image.get("height")}
        for image in raw
        if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"]
    )


def external_ids(item: CatalogueItem) -> dict[str, str]:
    """The provider ids an item is known by, by provider."""
    ids = {provider: getattr(item, f"{provider}_id") for provider in Provider.values}
    return {provider: value for provider, value in ids.items() if value}


def item_card(item: CatalogueItem) -> ItemCard:
    """The card of a row loaded with ``list_relations`` (no query of its own)."""
    spec = KIND_SPECS[item_kind(item)]
    one: dict[str, ItemRef | None] = {}
    for name in spec.list_select:
        related = getattr(item, name)
        one[name] = item_ref(related) if related is not None else None
    many = {
        name: tuple(item_ref(related) for related in getattr(item, name).all())
        for name in spec.list_prefetch
    }
    images = images_of(item.images)
    if not images and spec.images_from is not None:
        source = getattr(item, spec.images_from)
        images = images_of(source.images) if source is not None else ()
    return ItemCard(
        kind=spec.kind.value,
        public_id=item.public_id,
        name=item.name,
        external_ids=external_ids(item),
        images=images,
        one=one,
        many=many,
    )


def list_relations(
    spec: KindSpec, queryset: QuerySet[Any], *, through: str | None = None
) -> QuerySet[Any]:
    """``queryset`` loading what a card of ``spec``'s kind shows (a fixed number of queries,
    whatever the page size); ``through`` names the item's field when the rows are edges."""
    prefix = f"{through}__" if through else ""
    selected = [prefix + name for name in spec.list_select]
    if through and not selected:
        selected = [through]
    if spec.images_from is not None and spec.images_from not in spec.list_select:
        selected.append(prefix + spec.images_from)
    if selected:
        queryset = queryset.select_related(*selected)
    if spec.list_prefetch:
        queryset = queryset.prefetch_related(*(prefix + name for name in spec.list_prefetch))
    return queryset


def _cards_load(refs: list[ItemRef]) -> dict[tuple[str, UUID], ItemCard]:
    by_kind: dict[str, set[UUID]] = defaultdict(set)
    for ref in refs:
        by_kind[ref.kind].add(ref.public_id)
    cards: dict[tuple[str, UUID], ItemCard] = {}
    for kind, public_ids in by_kind.items():
        spec = KIND_SPECS[kind]
        queryset = spec.model._default_manager.filter(public_id__in=public_ids)
        for item in list_relations(spec, queryset):
            cards[(kind, item.public_id)] = item_card(item)
    return cards


async def item_cards_get(refs: Iterable[ItemRef]) -> dict[tuple[str, UUID], ItemCard]:
    """The cards of the items ``refs`` name, by (kind, public id): one query per kind and
    relation, in one thread hop; an item deleted meanwhile is left out."""
    wanted = list(refs)
    if not wanted:
        return {}
    # Several queries (one per kind and relation): one hop for all of them.
    return await sync_to_async(_cards_load)(wanted)


def card_of(cards: Mapping[tuple[str, UUID], ItemCard], ref: ItemRef) -> ItemCard:
    """The card ``item_cards_get`` loaded for ``ref``; a bare card (its ref) for an item
    deleted since the ref was read, so a list never breaks on a concurrent deletion."""
    return cards.get((ref.kind, ref.public_id)) or ItemCard(
        kind=ref.kind, public_id=ref.public_id, name=ref.name
    )


# --- reads ---------------------------------------------------------------------------------------


def _search(
    *, kind: str, query: str | None, related: Mapping[str, UUID] | None
) -> QuerySet[CatalogueItem]:
    spec = KIND_SPECS[ItemKind(kind)]
    queryset: QuerySet[CatalogueItem] = spec.model._default_manager.all()
    if related:
        # One row per item: each filter follows another relation, holding the item at most once.
        queryset = queryset.filter(
            Q(
                **{
                    f"{spec.filters[name]}__public_id": public_id
                    for name, public_id in related.items()
                }
            )
        )
    if query:
        queryset = queryset.filter(name__icontains=query)
    return queryset


async def catalogue_search(
    *,
    kind: str,
    query: str | None,
    offset: int,
    limit: int,
    related: Mapping[str, UUID] | None = None,
) -> list[ItemCard]:
    """Items whose name contains ``query`` (case-insensitive), prefix matches first, as cards;
    ``related`` keeps those related to every item named (``{"artist": <public id>}``: that
    artist's tracks), by the filter names of the kind's ``KindSpec.filters``.

    Returns up to ``limit + 1`` rows from ``offset`` so the caller knows whether a next page
    exists. Without a query every item is listed by name.
    """
    queryset = _search(kind=kind, query=query, related=related)
    if query:
        queryset = queryset.annotate(
            match_rank=Case(
                When(name__istartswith=query, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        ).order_by("match_rank", Lower("name"), "id")
    else:
        queryset = queryset.order_by(Lower("name"), "id")
    page = list_relations(KIND_SPECS[ItemKind(kind)], queryset)[offset : offset + limit + 1]
    return [item_card(item) async for item in page]


async def catalogue_count(
    *, kind: str, query: str | None, related: Mapping[str, UUID] | None = None
) -> int:
    """How many items ``catalogue_search`` pages through."""
    return await _search(kind=kind, query=query, related=related).acount()


async def catalogue_item_get(*, kind: str, public_id: UUID) -> CatalogueItem:
    """One item with its artists / album / genres loaded; NotFound when there is none."""
    items: list[CatalogueItem] = [
        item async for item in _with_relations(kind).filter(public_id=public_id)
    ]
    if not items:
        raise NotFound(f"No {kind} with id {public_id}", code="item_not_found")
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
        raise NotFound(f"No {kind} with id {public_id}", code="item_not_found") from exc
