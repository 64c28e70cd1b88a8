"""Reads of a user's taste edges: likes, top items and plays, one page at a time."""

from __future__ import annotations

from enum import StrEnum

from django.db.models import F, OrderBy, QuerySet
from django.db.models.functions import Lower

from musicbud.kinds import KIND_SPECS
from musicbud.models import ItemKind, Relation, TasteEdge
from musicbud.selectors.catalogue import list_relations


class LikeSort(StrEnum):
    """The orders my likes can be listed in."""

    RECENT = "recent"  # newest like first
    OLDEST = "oldest"
    NAME = "name"  # by the item's name, A to Z


# How each relation's list is ordered; the id makes every order total (stable pages).
_ORDERING: dict[str, tuple[str | OrderBy, ...]] = {
    Relation.LIKE: ("-created_at", "-id"),
    Relation.TOP: ("rank", "id"),
    Relation.PLAYED: (
        "-play_count",
        F("last_played_at").desc(nulls_last=True),
        "id",
    ),
}


def _sort_ordering(kind: str, sort: LikeSort) -> tuple[str | OrderBy, ...]:
    if sort is LikeSort.OLDEST:
        return ("created_at", "id")
    if sort is LikeSort.NAME:
        return (Lower(f"{kind}__name").asc(), "id")
    return _ORDERING[Relation.LIKE]


def _edges(*, user_id: int, relation: str, kind: str, query: str | None) -> QuerySet[TasteEdge]:
    edges = TasteEdge.objects.filter(
        user_id=user_id, relation=Relation(relation).value, kind=ItemKind(kind).value
    )
    if query:
        edges = edges.filter(**{f"{ItemKind(kind).value}__name__icontains": query})
    return edges


async def taste_edges_list(
    *,
    user_id: int,
    relation: str,
    kind: str,
    offset: int,
    limit: int,
    query: str | None = None,
    sort: LikeSort | None = None,
) -> list[TasteEdge]:
    """A user's edges of one relation and kind with their item and what its card shows loaded
    (a fixed number of queries: ``list_relations``); ``query`` keeps the items whose name
    contains it (case-insensitive); ``sort`` orders likes (others keep their relation's order).

    Returns up to ``limit + 1`` rows from ``offset`` (the extra one signals a next page).
    """
    kind = ItemKind(kind).value
    ordering = (
        _sort_ordering(kind, sort)
        if sort is not None and relation == Relation.LIKE
        else _ORDERING[Relation(relation)]
    )
    queryset = _edges(user_id=user_id, relation=relation, kind=kind, query=query).order_by(
        *ordering
    )
    queryset = list_relations(KIND_SPECS[kind], queryset, through=kind)
    return [edge async for edge in queryset[offset : offset + limit + 1]]


async def taste_edges_count(
    *, user_id: int, relation: str, kind: str, query: str | None = None
) -> int:
    """How many edges ``taste_edges_list`` pages through."""
    return await _edges(user_id=user_id, relation=relation, kind=kind, query=query).acount()
