"""Writes of taste edges (likes, top items, plays). Each service owns its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from musicbud.models import CatalogueItem, EdgeSource, ItemKind, Relation, TasteEdge, User


def _item_filter(kind: str, item: CatalogueItem) -> dict[str, Any]:
    return {ItemKind(kind).value: item}


def taste_edge_set(
    *,
    user: User,
    kind: str,
    item: CatalogueItem,
    relation: str,
    source: str = EdgeSource.MANUAL,
    rank: int | None = None,
    play_count: int | None = None,
    last_played_at: datetime | None = None,
) -> tuple[TasteEdge, bool]:
    """Create or update one edge; returns the edge and whether it was created."""
    relation = Relation(relation).value
    defaults: dict[str, object] = {"source": EdgeSource(source).value}
    if relation == Relation.TOP:
        defaults["rank"] = rank
    if relation == Relation.PLAYED:
        defaults["play_count"] = play_count if play_count is not None else 1
        defaults["last_played_at"] = last_played_at
    with transaction.atomic():
        edge, created = TasteEdge.objects.select_for_update().update_or_create(
            user=user,
            relation=relation,
            kind=ItemKind(kind).value,
            **_item_filter(kind, item),
            defaults=defaults,
        )
    return edge, created


def taste_edge_remove(*, user: User, kind: str, item: CatalogueItem, relation: str) -> bool:
    """Delete one edge; returns whether there was one."""
    with transaction.atomic():
        deleted, _ = TasteEdge.objects.filter(
            user=user, relation=Relation(relation).value, **_item_filter(kind, item)
        ).delete()
    return deleted > 0


def like_add(
    *, user: User, kind: str, item: CatalogueItem, source: str = EdgeSource.MANUAL
) -> bool:
    """Like an item (idempotent); returns whether the like is new."""
    _, created = taste_edge_set(
        user=user, kind=kind, item=item, relation=Relation.LIKE, source=source
    )
    return created


def like_remove(*, user: User, kind: str, item: CatalogueItem) -> bool:
    """Unlike an item; returns whether it was liked."""
    return taste_edge_remove(user=user, kind=kind, item=item, relation=Relation.LIKE)
