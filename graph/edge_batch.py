"""What a batch of taste-edge changes of one user writes beside the edges, set-based.

The batch form of the per-edge bookkeeping: each changed edge's next version (one multi-row
upsert per chunk), its outbox row (one bulk insert per chunk), the user's library sizes, the
cells' user counts and the items' holder counts (a few statements whatever the batch size),
all in the caller's transaction; the projector is started for the new rows after commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F

from graph.models import (
    CellPopulation,
    EdgeVersion,
    ItemPopularity,
    OutboxOperation,
    ProjectionOutbox,
    UserLibrary,
    library_column,
)
from graph.projection import projection_dispatch
from musicbud.models import User

CHUNK = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """One edge created, updated or deleted (``delta`` +1, 0 or -1 to the user's library)."""

    relation: str
    kind: str
    item_id: int
    item_public_id: UUID
    item_name: str
    delta: int
    rank: int | None = None
    play_count: int | None = None
    last_played_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.relation, self.kind, self.item_id)


def _chunks(rows: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def edge_versions_next(
    *, user_id: int, keys: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str, int], int]:
    """Take the next version of each edge (creating version rows at 1), locking their rows.

    Keys are taken in sorted order, so two batches (or a batch and a single write, which
    locks one row) sharing edges wait for each other instead of deadlocking.
    """
    table = EdgeVersion._meta.db_table
    versions: dict[tuple[str, str, int], int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(set(keys))):
            values = ", ".join(["(%s, %s, %s, %s, 1)"] * len(chunk))
            params: list[str | int] = []
            for relation, kind, item_id in chunk:
                params += [user_id, relation, kind, item_id]
            cursor.execute(
                f"INSERT INTO {table} (user_id, relation, kind, item_id, version) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (user_id, relation, kind, item_id) "
                f"DO UPDATE SET version = {table}.version + 1 "
                "RETURNING relation, kind, item_id, version",
                params,
            )
            for relation, kind, item_id, version in cursor.fetchall():
                versions[(relation, kind, int(item_id))] = int(version)
    return versions


def edge_changes_record(
    *,
    user: User,
    changes: Sequence[EdgeChange],
    changed_at: datetime,
    versions: dict[tuple[str, str, int], int] | None = None,
) -> list[int]:
    """Versions, outbox rows and statistics for ``changes`` (already applied to the edges,
    in the caller's transaction); returns the outbox row ids. ``versions`` are those the
    caller already took (``edge_versions_next``) to lock the edges before changing them."""
    if not changes:
        return []
    if versions is None:
        versions = edge_versions_next(user_id=user.pk, keys=[change.key for change in changes])
    rows = [
        ProjectionOutbox(
            operation=OutboxOperation.DELETE if change.delta < 0 else OutboxOperation.UPSERT,
            relation=change.relation,
            kind=change.kind,
            version=versions[change.key],
            user_pk=user.pk,
            user_public_id=user.public_id,
            username=user.username,
            display_name=user.display_name,
            item_pk=change.item_id,
            item_public_id=change.item_public_id,
            item_name=change.item_name,
            rank=change.rank if change.delta >= 0 else None,
            play_count=change.play_count if change.delta >= 0 else None,
            last_played_at=change.last_played_at if change.delta >= 0 else None,
            changed_at=changed_at,
        )
        for change in changes
    ]
    created = ProjectionOutbox.objects.bulk_create(rows, batch_size=CHUNK)
    row_ids = [row.pk for row in created]
    _library_stats_apply(user_id=user.pk, changes=changes)
    transaction.on_commit(lambda: projection_dispatch(row_ids=row_ids))
    return row_ids


def _library_stats_apply(*, user_id: int, changes: Sequence[EdgeChange]) -> None:
    """The user's library sizes, the cells' user counts and the items' holder counts, moved by
    the batch's creations and deletions. Locks in the order single writes take them: the
    user's library row, the cells, then holder rows in key order."""
    deltas: Counter[tuple[str, str]] = Counter()
    for change in changes:
        deltas[(change.relation, change.kind)] += change.delta
    cells = {cell: delta for cell, delta in deltas.items() if delta}
    if cells:
        UserLibrary.objects.get_or_create(user_id=user_id)
        library = UserLibrary.objects.select_for_update().get(user_id=user_id)
        before = {cell: getattr(library, library_column(*cell)) for cell in cells}
        UserLibrary.objects.filter(user_id=user_id).update(
            **{
                library_column(*cell): F(library_column(*cell)) + delta
                for cell, delta in cells.items()
            }
        )
        for cell, delta in sorted(cells.items()):
            was, now = before[cell], before[cell] + delta
            if was == 0 and now > 0:
                _cell_users_add(cell, 1)
            elif was > 0 and now == 0:
                _cell_users_add(cell, -1)
    added = sorted(change.key for change in changes if change.delta > 0)
    removed = sorted(change.key for change in changes if change.delta < 0)
    table = ItemPopularity._meta.db_table
    with connection.cursor() as cursor:
        for chunk in _chunks(added):
            values = ", ".join(["(%s, %s, %s, 1)"] * len(chunk))
            params = [value for key in chunk for value in key]
            cursor.execute(
                f"INSERT INTO {table} (relation, kind, item_id, holders) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (relation, kind, item_id) "
                f"DO UPDATE SET holders = {table}.holders + 1",
                params,
            )
        for chunk in _chunks(removed):
            keys = ", ".join(["(%s, %s, %s)"] * len(chunk))
            matches = f"(relation, kind, item_id) IN (VALUES {keys})"
            params = [value for key in chunk for value in key]
            cursor.execute(
                f"UPDATE {table} SET holders = holders - 1 WHERE {matches}",  # noqa: S608
                params,
            )
            # Holder rows exist only while someone holds the item.
            cursor.execute(
                f"DELETE FROM {table} WHERE holders <= 0 AND {matches}",  # noqa: S608
                params,
            )


def _cell_users_add(cell: tuple[str, str], delta: int) -> None:
    relation, kind = cell
    if delta > 0:
        CellPopulation.objects.get_or_create(relation=relation, kind=kind, defaults={"users": 0})
    CellPopulation.objects.filter(relation=relation, kind=kind).update(users=F("users") + delta)
