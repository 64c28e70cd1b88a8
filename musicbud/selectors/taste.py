"""Reads of a user's taste edges: likes, top items and plays, one page at a time."""

from __future__ import annotations

from django.db.models import F, OrderBy

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


async def taste_edges_list(
    *, user_id: int, relation: str, kind: str, offset: int, limit: int
) -> list[TasteEdge]:
    """A user's edges of one relation and kind with their item loaded (one query).

    Returns up to ``limit + 1`` rows from ``offset`` (the extra one signals a next page).
    """
    kind = ItemKind(kind).value
    relation = Relation(relation).value
    queryset = (
        TasteEdge.objects.filter(user_id=user_id, relation=relation, kind=kind)
        .select_related(kind)
        .order_by(*_ORDERING[relation])
    )
    return [edge async for edge in queryset[offset : offset + limit + 1]]
