"""Reads of a user's taste edges: likes, top items and plays, one page at a time."""

from __future__ import annotations

from django.db.models import F, OrderBy, QuerySet

from musicbud.kinds import KIND_SPECS
from musicbud.models import ItemKind, Relation, TasteEdge

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


def _edges(*, user_id: int, relation: str, kind: str) -> QuerySet[TasteEdge]:
    return TasteEdge.objects.filter(
        user_id=user_id, relation=Relation(relation).value, kind=ItemKind(kind).value
    )


async def taste_edges_list(
    *, user_id: int, relation: str, kind: str, offset: int, limit: int, credits: bool = False
) -> list[TasteEdge]:
    """A user's edges of one relation and kind with their item loaded (one query; with
    ``credits``, items of a credited kind also load their detail: artists, a track's album).

    Returns up to ``limit + 1`` rows from ``offset`` (the extra one signals a next page).
    """
    kind = ItemKind(kind).value
    queryset = _edges(user_id=user_id, relation=relation, kind=kind).order_by(
        *_ORDERING[Relation(relation)]
    )
    spec = KIND_SPECS[kind]
    if credits and spec.credited:
        # A detail's select_related reaches the item too (track__album); without one, the item.
        selected = [f"{kind}__{name}" for name in spec.detail_select] or [kind]
        queryset = queryset.select_related(*selected).prefetch_related(
            *(f"{kind}__{name}" for name in spec.detail_prefetch)
        )
    else:
        queryset = queryset.select_related(kind)
    return [edge async for edge in queryset[offset : offset + limit + 1]]


async def taste_edges_count(*, user_id: int, relation: str, kind: str) -> int:
    """How many edges ``taste_edges_list`` pages through."""
    return await _edges(user_id=user_id, relation=relation, kind=kind).acount()
