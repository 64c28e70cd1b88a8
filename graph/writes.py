"""The one port from taste writes to the graph layer: lock the edges, let the caller write them,
then record what changed (versions, outbox rows, statistics, the caller's after-commit work)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from graph.outbox import edge_changes_record, edge_versions_lock
from graph.stats import taste_stats_change
from graph.types import EdgeChange, EdgeKey


def projection_queued() -> bool:
    """Whether writes queue outbox rows: only when a Neo4j projection consumes them
    (``GRAPH_PROJECTION``; by default when ``GRAPH_BACKEND=neo4j`` or ``NEO4J_URL`` is set).

    On the SQL backend alone nothing would ever apply them, and they would pile up; the
    versions are kept regardless, so ``graph_rebuild`` (from scratch) projects everything when
    a Neo4j store is configured later.
    """
    return bool(settings.GRAPH_PROJECTION)


@dataclass(slots=True)
class EdgeWrite:
    """The edge changes one write makes, recorded by the block that writes them."""

    locked: frozenset[EdgeKey]
    changes: list[EdgeChange] = field(default_factory=list)
    added: list[EdgeKey] = field(default_factory=list)
    removed: list[EdgeKey] = field(default_factory=list)

    def record(self, change: EdgeChange, *, created: bool = False) -> None:
        """An edge written (``created`` when it is new) or deleted (``change.edge`` is None)."""
        key = change.key
        if key not in self.locked:
            # Its version would not be serialised with other writers of the edge.
            raise ValueError(f"{key} was not locked by this write")
        self.changes.append(change)
        if change.edge is None:
            self.removed.append(key)
        elif created:
            self.added.append(key)


@contextmanager
def taste_edges_write(
    *, keys: Sequence[EdgeKey], after_commit: Callable[[], object]
) -> Iterator[EdgeWrite]:
    """Write taste edges with the graph layer's bookkeeping, in one transaction (the caller's,
    or one of its own).

    Locks the edges' version rows first (in key order: writers of one edge serialise instead
    of deadlocking); the block writes the edges and records each change on the yielded
    ``EdgeWrite``. When the block ends, the changes get their next versions and, when a
    projection consumes them (``projection_queued``), outbox rows (applied to Neo4j after
    commit), ``after_commit`` is scheduled (the caller's cache
    invalidation; robust: a failure there is logged, the write stands), and the statistics
    are counted last: the user's library row, which every write of that user locks, is then
    held for that statement and the commit only. A block that records nothing, or raises,
    records nothing.
    """
    with transaction.atomic(savepoint=False):
        edge_versions_lock(keys=keys)
        write = EdgeWrite(locked=frozenset(keys))
        yield write
        if write.changes:
            edge_changes_record(changes=write.changes, queued=projection_queued())
            transaction.on_commit(after_commit, robust=True)
            taste_stats_change(added=write.added, removed=write.removed)
