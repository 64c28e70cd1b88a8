"""Writes of taste edges (likes, top items, plays). Each service owns its transaction.

Every write also records, in the same transaction, the edge's next version, the library
size the similarity formula divides by, and an outbox row for the Neo4j projection
(DESIGN §3); the projector is started only after the transaction commits, and so is the
invalidation of the user's cached profile and bud pages (a rolled-back write changes nothing).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from graph.models import EdgeVersion, LibrarySize, OutboxOperation, ProjectionOutbox
from graph.projection import projection_dispatch
from musicbud.cache_keys import taste_caches_invalidate
from musicbud.models import CatalogueItem, EdgeSource, ItemKind, Relation, TasteEdge, User


def _item_filter(kind: str, item: CatalogueItem) -> dict[str, Any]:
    return {ItemKind(kind).value: item}


def _next_version(*, user: User, relation: str, kind: str, item: CatalogueItem) -> int:
    # One upsert: the row lock it takes serialises writers of the same edge until commit,
    # so versions of one edge increase in commit order.
    table = EdgeVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, relation, kind, item_id, version) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, 1) "
            "ON CONFLICT (user_id, relation, kind, item_id) "
            f"DO UPDATE SET version = {table}.version + 1 RETURNING version",
            [user.pk, relation, kind, item.pk],
        )
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 - RETURNING always yields the row
    return int(row[0])


def _library_size_add(*, user: User, relation: str, kind: str, delta: int) -> None:
    table = LibrarySize._meta.db_table
    with connection.cursor() as cursor:
        if delta > 0:
            cursor.execute(
                f"INSERT INTO {table} (user_id, relation, kind, size) "  # noqa: S608
                "VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, relation, kind) "
                f"DO UPDATE SET size = {table}.size + %s",
                [user.pk, relation, kind, delta, delta],
            )
            return
    # Rows exist only while the cell is non-empty: their count per cell is the user count.
    cell = LibrarySize.objects.filter(user=user, relation=relation, kind=kind)
    cell.update(size=F("size") + delta)
    cell.filter(size__lte=0).delete()


def _outbox_write(
    *,
    operation: str,
    user: User,
    kind: str,
    item: CatalogueItem,
    relation: str,
    version: int,
    edge: TasteEdge | None,
) -> ProjectionOutbox:
    row = ProjectionOutbox.objects.create(
        operation=operation,
        relation=relation,
        kind=kind,
        version=version,
        user_pk=user.pk,
        user_public_id=user.public_id,
        username=user.username,
        display_name=user.display_name,
        item_pk=item.pk,
        item_public_id=item.public_id,
        item_name=item.name,
        rank=edge.rank if edge else None,
        play_count=edge.play_count if edge else None,
        last_played_at=edge.last_played_at if edge else None,
        changed_at=edge.updated_at if edge else timezone.now(),
    )
    transaction.on_commit(lambda: projection_dispatch(row_ids=[row.pk]))
    return row


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
    kind = ItemKind(kind).value
    defaults: dict[str, object] = {"source": EdgeSource(source).value}
    if relation == Relation.TOP:
        defaults["rank"] = rank
    if relation == Relation.PLAYED:
        defaults["play_count"] = play_count if play_count is not None else 1
        defaults["last_played_at"] = last_played_at
    with transaction.atomic():
        version = _next_version(user=user, relation=relation, kind=kind, item=item)
        edge, created = TasteEdge.objects.select_for_update().update_or_create(
            user=user,
            relation=relation,
            kind=kind,
            **_item_filter(kind, item),
            defaults=defaults,
        )
        if created:
            _library_size_add(user=user, relation=relation, kind=kind, delta=1)
        _outbox_write(
            operation=OutboxOperation.UPSERT,
            user=user,
            kind=kind,
            item=item,
            relation=relation,
            version=version,
            edge=edge,
        )
        transaction.on_commit(partial(taste_caches_invalidate, user_id=user.pk), robust=True)
    return edge, created


def taste_edge_remove(*, user: User, kind: str, item: CatalogueItem, relation: str) -> bool:
    """Delete one edge; returns whether there was one."""
    relation = Relation(relation).value
    kind = ItemKind(kind).value
    with transaction.atomic():
        deleted, _ = TasteEdge.objects.filter(
            user=user, relation=relation, **_item_filter(kind, item)
        ).delete()
        if deleted:
            version = _next_version(user=user, relation=relation, kind=kind, item=item)
            _library_size_add(user=user, relation=relation, kind=kind, delta=-1)
            _outbox_write(
                operation=OutboxOperation.DELETE,
                user=user,
                kind=kind,
                item=item,
                relation=relation,
                version=version,
                edge=None,
            )
            transaction.on_commit(partial(taste_caches_invalidate, user_id=user.pk), robust=True)
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


def library_sizes_refresh() -> int:
    """Recompute every library size from the taste edges (after bulk loads that bypass the
    services, e.g. demo data); returns how many (user, cell) rows there are now."""
    table = LibrarySize._meta.db_table
    edges = TasteEdge._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {table} (user_id, relation, kind, size) "  # noqa: S608
            f"SELECT user_id, relation, kind, COUNT(*) FROM {edges} "
            "GROUP BY user_id, relation, kind"
        )
        return int(cursor.rowcount)
