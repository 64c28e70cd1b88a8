"""Writes of taste edges (likes, top items, plays), each owning its transaction: the edge and the
graph layer's bookkeeping commit together; the user's cached profile and bud pages go after."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async

from graph.types import EdgeChange, EdgeKey
from graph.writes import EdgeWrite, taste_edges_write
from musicbud.cache_keys import taste_caches_invalidate
from musicbud.models import CatalogueItem, EdgeSource, ItemKind, Relation, TasteEdge, User
from musicbud.selectors.catalogue import catalogue_item_lookup


def _item_filter(kind: str, item: CatalogueItem) -> dict[str, Any]:
    return {ItemKind(kind).value: item}


def user_edges_write(*, user: User, keys: Sequence[EdgeKey]) -> AbstractContextManager[EdgeWrite]:
    """The graph layer's write of these edges of ``user`` (``graph.writes``); what it changes
    drops the user's cached profile and bud pages after commit."""
    return taste_edges_write(
        keys=keys, after_commit=partial(taste_caches_invalidate, user_id=user.pk)
    )


def _edge_write(
    *, user: User, relation: str, kind: str, item: CatalogueItem
) -> AbstractContextManager[EdgeWrite]:
    return user_edges_write(user=user, keys=[EdgeKey(user.pk, relation, kind, item.pk)])


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
    """Create or update one edge; returns the edge and whether it was created.

    Setting what is already there writes nothing (no version, no outbox row, no cache
    invalidation). A write by hand (``source`` manual) makes the edge the user's own, even
    one a provider's sync brought (so the provider's next sync or disconnect leaves it); any
    other source leaves an existing edge's ``source`` as it is. An existing edge keeps its
    ``last_played_at`` when no new one is given.
    """
    relation = Relation(relation).value
    kind = ItemKind(kind).value
    source = EdgeSource(source).value
    values: dict[str, object] = {}
    if source == EdgeSource.MANUAL:
        values["source"] = source
    if relation == Relation.TOP:
        values["rank"] = rank
    if relation == Relation.PLAYED:
        values["play_count"] = play_count if play_count is not None else 1
        if last_played_at is not None:
            values["last_played_at"] = last_played_at
    with _edge_write(user=user, relation=relation, kind=kind, item=item) as write:
        # The block runs with the edge's version row locked, as a removal does: writers of
        # one edge serialise on it.
        edge = TasteEdge.objects.filter(
            user=user, relation=relation, kind=kind, **_item_filter(kind, item)
        ).first()
        created = edge is None
        if edge is None:
            edge = TasteEdge.objects.create(
                user=user,
                relation=relation,
                kind=kind,
                **_item_filter(kind, item),
                **{"source": source, **values},
            )
        else:
            changed = [name for name, value in values.items() if getattr(edge, name) != value]
            if not changed:
                return edge, False
            for name in changed:
                setattr(edge, name, values[name])
            edge.save(update_fields=[*changed, "updated_at"])
        write.record(
            EdgeChange(user=user, relation=relation, kind=kind, item=item, edge=edge),
            created=created,
        )
    return edge, created


def taste_edge_remove(*, user: User, kind: str, item: CatalogueItem, relation: str) -> bool:
    """Delete one edge; returns whether there was one."""
    relation = Relation(relation).value
    kind = ItemKind(kind).value
    with _edge_write(user=user, relation=relation, kind=kind, item=item) as write:
        deleted, _ = TasteEdge.objects.filter(
            user=user, relation=relation, **_item_filter(kind, item)
        ).delete()
        if deleted:
            write.record(EdgeChange(user=user, relation=relation, kind=kind, item=item, edge=None))
    return deleted > 0


def _like_add(*, user: User, kind: str, public_id: UUID) -> tuple[TasteEdge, bool]:
    item = catalogue_item_lookup(kind=kind, public_id=public_id)
    edge, created = taste_edge_set(user=user, kind=kind, item=item, relation=Relation.LIKE)
    # Attach the item already in hand, so callers read ``edge.<kind>`` without a query.
    setattr(edge, kind, item)
    return edge, created


async def like_add(*, user: User, kind: str, public_id: UUID) -> tuple[TasteEdge, bool]:
    """Like an item (idempotent); returns the like edge and whether it is new.

    Raises NotFound when there is no such item.
    """
    return await sync_to_async(_like_add)(user=user, kind=kind, public_id=public_id)


def _like_remove(*, user: User, kind: str, public_id: UUID) -> bool:
    item = catalogue_item_lookup(kind=kind, public_id=public_id)
    return taste_edge_remove(user=user, kind=kind, item=item, relation=Relation.LIKE)


async def like_remove(*, user: User, kind: str, public_id: UUID) -> bool:
    """Unlike an item; returns whether it was liked. Raises NotFound for an unknown item."""
    return await sync_to_async(_like_remove)(user=user, kind=kind, public_id=public_id)
