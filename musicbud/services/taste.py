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

from graph.models import (
    CellPopulation,
    EdgeVersion,
    ItemPopularity,
    NodeVersion,
    OutboxOperation,
    ProjectionOutbox,
    UserLibrary,
    library_column,
)
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


def _edge_lock(*, user: User, relation: str, kind: str, item: CatalogueItem) -> None:
    """Take the edge's version row lock without a new version (creating it at 0 if missing).

    A removal takes it before deleting, as a write takes it (through ``_next_version``) before
    touching the edge: both lock the version row first, then the edge, so a like and an unlike
    of the same edge at once serialise instead of deadlocking.
    """
    table = EdgeVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, relation, kind, item_id, version) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, 0) "
            "ON CONFLICT (user_id, relation, kind, item_id) "
            f"DO UPDATE SET version = {table}.version",
            [user.pk, relation, kind, item.pk],
        )


def _upsert_increment(*, table: str, key: dict[str, Any], column: str) -> int:
    """Add one to a counter row (creating it at 1); returns the new value."""
    names = ", ".join([*key, column])
    placeholders = ", ".join(["%s"] * (len(key) + 1))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {column} = {table}.{column} + 1 "
            f"RETURNING {column}",
            [*key.values(), 1],
        )
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 - RETURNING always yields the row
    return int(row[0])


def _taste_stats_add(
    *, user: User, relation: str, kind: str, item: CatalogueItem, delta: int
) -> None:
    """Keep the user's library size in the cell, the cell's user count and the item's holder
    count exact (delta is +1 or -1)."""
    cell_key = {"relation": relation, "kind": kind}
    column = library_column(relation, kind)
    library = UserLibrary._meta.db_table
    with connection.cursor() as cursor:
        if delta > 0:
            cursor.execute(
                f"INSERT INTO {library} (user_id, {column}) VALUES (%s, 1) "  # noqa: S608
                f"ON CONFLICT (user_id) DO UPDATE SET {column} = {library}.{column} + 1 "
                f"RETURNING {column}",
                [user.pk],
            )
        else:
            cursor.execute(
                f"UPDATE {library} SET {column} = {column} - 1 "  # noqa: S608
                f"WHERE user_id = %s AND {column} > 0 RETURNING {column}",
                [user.pk],
            )
        row = cursor.fetchone()
    size = int(row[0]) if row else None
    if delta > 0:
        if size == 1:
            _upsert_increment(table=CellPopulation._meta.db_table, key=cell_key, column="users")
        _upsert_increment(
            table=ItemPopularity._meta.db_table,
            key={**cell_key, "item_id": item.pk},
            column="holders",
        )
        return
    if size == 0:
        CellPopulation.objects.filter(**cell_key).update(users=F("users") - 1)
    # Holder rows exist only while someone holds the item.
    popularity = ItemPopularity.objects.filter(item_id=item.pk, **cell_key)
    popularity.update(holders=F("holders") - 1)
    popularity.filter(holders__lte=0).delete()


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


def _edge_change_record(
    *,
    operation: str,
    user: User,
    kind: str,
    item: CatalogueItem,
    relation: str,
    edge: TasteEdge | None,
) -> None:
    """What every change of an edge writes beside it, in its transaction: the edge's next
    version and the outbox row carrying it; after commit, the user's taste caches go."""
    version = _next_version(user=user, relation=relation, kind=kind, item=item)
    _outbox_write(
        operation=operation,
        user=user,
        kind=kind,
        item=item,
        relation=relation,
        version=version,
        edge=edge,
    )
    transaction.on_commit(partial(taste_caches_invalidate, user_id=user.pk), robust=True)


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
    invalidation). An existing edge keeps its ``source`` (where it came from) and, when no
    new one is given, its ``last_played_at``.
    """
    relation = Relation(relation).value
    kind = ItemKind(kind).value
    values: dict[str, object] = {}
    if relation == Relation.TOP:
        values["rank"] = rank
    if relation == Relation.PLAYED:
        values["play_count"] = play_count if play_count is not None else 1
        if last_played_at is not None:
            values["last_played_at"] = last_played_at
    with transaction.atomic():
        # The version row first, as a removal does: writers of one edge serialise on it.
        _edge_lock(user=user, relation=relation, kind=kind, item=item)
        edge = TasteEdge.objects.filter(
            user=user, relation=relation, kind=kind, **_item_filter(kind, item)
        ).first()
        created = edge is None
        if edge is None:
            edge = TasteEdge.objects.create(
                user=user,
                relation=relation,
                kind=kind,
                source=EdgeSource(source).value,
                **_item_filter(kind, item),
                **values,
            )
            _taste_stats_add(user=user, relation=relation, kind=kind, item=item, delta=1)
        else:
            changed = [name for name, value in values.items() if getattr(edge, name) != value]
            if not changed:
                return edge, False
            for name in changed:
                setattr(edge, name, values[name])
            edge.save(update_fields=[*changed, "updated_at"])
        _edge_change_record(
            operation=OutboxOperation.UPSERT,
            user=user,
            kind=kind,
            item=item,
            relation=relation,
            edge=edge,
        )
    return edge, created


def taste_edge_remove(*, user: User, kind: str, item: CatalogueItem, relation: str) -> bool:
    """Delete one edge; returns whether there was one."""
    relation = Relation(relation).value
    kind = ItemKind(kind).value
    with transaction.atomic():
        _edge_lock(user=user, relation=relation, kind=kind, item=item)
        deleted, _ = TasteEdge.objects.filter(
            user=user, relation=relation, **_item_filter(kind, item)
        ).delete()
        if deleted:
            _taste_stats_add(user=user, relation=relation, kind=kind, item=item, delta=-1)
            _edge_change_record(
                operation=OutboxOperation.DELETE,
                user=user,
                kind=kind,
                item=item,
                relation=relation,
                edge=None,
            )
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


def taste_stats_refresh() -> None:
    """Recompute every library size, cell user count and item holder count from the taste
    edges: after bulk loads that bypass these services (demo data) or deletions that cascade
    past them."""
    library = UserLibrary._meta.db_table
    popularity = ItemPopularity._meta.db_table
    population = CellPopulation._meta.db_table
    edges = TasteEdge._meta.db_table
    item = "COALESCE(track_id, artist_id, album_id, genre_id)"
    columns = [(relation, kind) for relation in Relation.values for kind in ItemKind.values]
    # Relations and kinds are fixed choices; only they and table names are interpolated.
    counts = ", ".join(
        f"SUM(CASE WHEN relation = '{relation}' AND kind = '{kind}' THEN 1 ELSE 0 END)"
        for relation, kind in columns
    )
    names = ", ".join(library_column(relation, kind) for relation, kind in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {library}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {library} (user_id, {names}) "  # noqa: S608
            f"SELECT user_id, {counts} FROM {edges} GROUP BY user_id"
        )
        cursor.execute(f"DELETE FROM {population}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {population} (relation, kind, users) "  # noqa: S608
            f"SELECT relation, kind, COUNT(DISTINCT user_id) FROM {edges} GROUP BY relation, kind"
        )
        cursor.execute(f"DELETE FROM {popularity}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {popularity} (relation, kind, item_id, holders) "  # noqa: S608
            f"SELECT relation, kind, {item}, COUNT(*) FROM {edges} "
            f"GROUP BY relation, kind, {item}"
        )


# --- users and catalogue items: projection rows and statistics on deletion ------------------


def _next_node_version(*, kind: str, node_id: int) -> int:
    # The same row-locking upsert as an edge's: versions of one node increase in commit order.
    table = NodeVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, node_id, version) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (kind, node_id) DO UPDATE SET version = {table}.version + 1 "
            "RETURNING version",
            [kind, node_id],
        )
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 - RETURNING always yields the row
    return int(row[0])


def user_projection_record(*, user: User, deleted: bool = False) -> ProjectionOutbox:
    """Queue the user's node for Neo4j (name, display name, active flag), or its deletion.

    Runs in the caller's transaction (the save or delete of the user); the row is applied after
    commit like an edge's.
    """
    with transaction.atomic(savepoint=False):
        row = ProjectionOutbox.objects.create(
            operation=OutboxOperation.USER_DELETE if deleted else OutboxOperation.USER_UPSERT,
            version=_next_node_version(kind="user", node_id=user.pk),
            user_pk=user.pk,
            user_public_id=user.public_id,
            username=user.username,
            display_name=user.display_name,
            user_is_active=user.is_active,
            changed_at=timezone.now(),
        )
        transaction.on_commit(lambda: projection_dispatch(row_ids=[row.pk]))
    return row


def item_projection_record(
    *, kind: str, item: CatalogueItem, deleted: bool = False
) -> ProjectionOutbox:
    """Queue a catalogue item's node for Neo4j (its name), or its deletion."""
    kind = ItemKind(kind).value
    with transaction.atomic(savepoint=False):
        row = ProjectionOutbox.objects.create(
            operation=OutboxOperation.ITEM_DELETE if deleted else OutboxOperation.ITEM_UPSERT,
            kind=kind,
            version=_next_node_version(kind=kind, node_id=item.pk),
            item_pk=item.pk,
            item_public_id=item.public_id,
            item_name=item.name,
            changed_at=timezone.now(),
        )
        transaction.on_commit(lambda: projection_dispatch(row_ids=[row.pk]))
    return row


def _holders_decrement(ids: list[int]) -> None:
    """One holder less for each of these ItemPopularity rows; rows reaching 0 go."""
    if not ids:
        return
    # Locked in id order, so two deletions sharing items cannot deadlock.
    locked = list(
        ItemPopularity.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk")
    )
    popularity = ItemPopularity.objects.filter(pk__in=[row["pk"] for row in locked])
    popularity.update(holders=F("holders") - 1)
    popularity.filter(holders__lte=0).delete()


def taste_stats_user_forget(*, user_id: int) -> None:
    """Before a user is deleted (their edges cascade past the taste services): take their
    library out of the cell user counts and their items' holder counts, in the deletion's
    transaction. Locks: the user's library row, cells in a fixed order, items in id order —
    the order the taste writes take them in."""
    with transaction.atomic(savepoint=False):
        library = UserLibrary.objects.select_for_update().filter(user_id=user_id).first()
        if library is not None:
            for relation in Relation.values:
                for kind in ItemKind.values:
                    if getattr(library, library_column(relation, kind)) > 0:
                        CellPopulation.objects.filter(relation=relation, kind=kind).update(
                            users=F("users") - 1
                        )
            library.delete()
        edges = TasteEdge._meta.db_table
        popularity = ItemPopularity._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.id FROM {popularity} p JOIN {edges} e "  # noqa: S608
                "ON p.relation = e.relation AND p.kind = e.kind "
                "AND p.item_id = COALESCE(e.track_id, e.artist_id, e.album_id, e.genre_id) "
                "WHERE e.user_id = %s",
                [user_id],
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
        _holders_decrement(ids)


def taste_stats_item_forget(*, kind: str, item_id: int) -> None:
    """Before a catalogue item is deleted (its edges cascade past the taste services): take it
    out of its holders' library sizes (and a cell's user count where that empties a library)
    and drop its holder counts, in the deletion's transaction."""
    kind = ItemKind(kind).value
    with transaction.atomic(savepoint=False):
        holders = TasteEdge.objects.filter(kind=kind, **{f"{kind}_id": item_id})
        by_relation: dict[str, list[int]] = {}
        for relation, user in holders.values_list("relation", "user_id").order_by("user_id"):
            by_relation.setdefault(relation, []).append(int(user))
        for relation, users in sorted(by_relation.items()):
            column = library_column(relation, kind)
            # Holders' rows in user order (the order a concurrent deletion takes them in).
            list(
                UserLibrary.objects.select_for_update()
                .filter(user_id__in=users)
                .order_by("user_id")
                .values("user_id")
            )
            libraries = UserLibrary.objects.filter(user_id__in=users, **{f"{column}__gt": 0})
            libraries.update(**{column: F(column) - 1})
            emptied = UserLibrary.objects.filter(user_id__in=users, **{column: 0}).count()
            if emptied:
                CellPopulation.objects.filter(relation=relation, kind=kind).update(
                    users=F("users") - emptied
                )
        ItemPopularity.objects.filter(kind=kind, item_id=item_id).delete()
