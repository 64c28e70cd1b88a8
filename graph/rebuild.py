"""Rebuild the whole Neo4j projection from the relational DB in ``UNWIND … MERGE`` batches, with a
checkpoint after each so an interrupted rebuild resumes; taste edges never overwrite newer ones."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from graph.connection import sync_driver
from graph.labels import LABEL_FOR_KIND, TYPE_FOR_RELATION
from graph.models import EdgeVersion, RebuildCheckpoint
from graph.projection import edge_properties
from musicbud.kinds import ITEM_ID_COLUMNS, ITEM_MODELS, KINDS, MATCH_ORDER
from musicbud.models import ItemKind, TasteEdge, User

CHECKPOINT = "projection"
# Linked kinds first, as a provider's entries are matched.
ITEM_PHASES = tuple(kind.value for kind in MATCH_ORDER)
PHASES = ("wipe", "users", *ITEM_PHASES, "taste", "done")


@dataclass
class RebuildProgress:
    phase: str
    items_done: int
    items_total: int
    edges_done: int
    edges_total: int
    started: float = field(default_factory=time.monotonic)
    done_at_start: int = 0

    @property
    def rate(self) -> float:
        """Items and edges written per second during this run."""
        elapsed = time.monotonic() - self.started
        done = self.items_done + self.edges_done - self.done_at_start
        return done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.items_total + self.edges_total - self.items_done - self.edges_done
        rate = self.rate
        return max(remaining, 0) / rate if rate > 0 else None


Progress = Callable[[RebuildProgress], None]


def _write(query: str, rows: list[dict[str, Any]]) -> None:
    def work(tx: Any) -> None:
        tx.run(query, {"rows": rows}).consume()

    with sync_driver().session(database=settings.NEO4J_DATABASE) as session:
        session.execute_write(work)


def _wipe(batch_size: int) -> None:
    """Delete everything, a batch at a time (one huge transaction would not fit in memory)."""
    while True:

        def work(tx: Any) -> int:
            record = tx.run(
                "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n",
                {"limit": batch_size},
            ).single()
            return int(record["n"]) if record else 0

        with sync_driver().session(database=settings.NEO4J_DATABASE) as session:
            if session.execute_write(work) == 0:
                return


def _batches(
    queryset: QuerySet[Any, Any], *, after: int, batch_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Keyset batches by primary key (no OFFSET: every batch is one index range scan)."""
    while True:
        rows = list(queryset.filter(pk__gt=after).order_by("pk")[:batch_size])
        if not rows:
            return
        yield rows
        after = rows[-1]["pk"]


def _user_rows() -> QuerySet[Any, Any]:
    return User.objects.values("pk", "public_id", "username", "display_name", "is_active")


def _item_rows(kind: str) -> QuerySet[Any, Any]:
    return ITEM_MODELS[kind]._default_manager.values("pk", "public_id", "name")


def _taste_rows() -> QuerySet[Any, Any]:
    version = EdgeVersion.objects.filter(
        user_id=OuterRef("user_id"),
        relation=OuterRef("relation"),
        kind=OuterRef("kind"),
        item_id=Coalesce(*(OuterRef(column) for column in ITEM_ID_COLUMNS)),
    ).values("version")[:1]
    rows: QuerySet[Any, Any] = TasteEdge.objects.values(
        "pk",
        "relation",
        "kind",
        "rank",
        "play_count",
        "last_played_at",
        "updated_at",
        "user__public_id",
        *(f"{spec.kind.value}__public_id" for spec in KINDS),
        edge_version=Coalesce(Subquery(version), Value(0), output_field=IntegerField()),
    )
    return rows


def _taste_write(rows: list[dict[str, Any]]) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        user = str(row["user__public_id"])
        item = str(row[f"{row['kind']}__public_id"])
        groups.setdefault((row["relation"], row["kind"]), []).append(
            {
                "user": user,
                "item": item,
                "key": f"{user}|{row['relation']}|{row['kind']}|{item}",
                "version": row["edge_version"],
                "props": edge_properties(
                    relation=row["relation"],
                    version=row["edge_version"],
                    changed_at=row["updated_at"],
                    rank=row["rank"],
                    play_count=row["play_count"],
                    last_played_at=row["last_played_at"],
                ),
            }
        )
    for (relation, kind), batch in groups.items():
        # Labels and types come from fixed maps; Cypher cannot take them as parameters.
        _write(
            "UNWIND $rows AS row "
            f"MATCH (u:User {{public_id: row.user}}), (i:{LABEL_FOR_KIND[kind]} "
            "{public_id: row.item}) "
            "OPTIONAL MATCH (s:EdgeState {key: row.key}) "
            "WITH u, i, row, s WHERE s IS NULL OR s.version < row.version "
            f"MERGE (u)-[r:{TYPE_FOR_RELATION[relation]}]->(i) "
            "WITH r, row WHERE r.version IS NULL OR r.version <= row.version "
            "SET r += row.props",
            batch,
        )


def _phase_writer(phase: str) -> tuple[QuerySet[Any, Any], Callable[[list[dict[str, Any]]], None]]:
    if phase == "users":
        return _user_rows(), lambda rows: _write(
            "UNWIND $rows AS row MERGE (u:User {public_id: row.public_id}) "
            "SET u.sql_id = row.pk, u.username = row.username, "
            "u.display_name = row.display_name, u.is_active = row.is_active",
            [{**row, "public_id": str(row["public_id"])} for row in rows],
        )
    if phase in ITEM_PHASES:
        label = LABEL_FOR_KIND[ItemKind(phase)]
        return _item_rows(phase), lambda rows: _write(
            f"UNWIND $rows AS row MERGE (i:{label} {{public_id: row.public_id}}) "
            "SET i.sql_id = row.pk, i.name = row.name",
            [{**row, "public_id": str(row["public_id"])} for row in rows],
        )
    return _taste_rows(), _taste_write


def _totals() -> tuple[int, int]:
    items = User.objects.count() + sum(
        model._default_manager.count() for model in ITEM_MODELS.values()
    )
    return items, TasteEdge.objects.aggregate(n=Count("id"))["n"]


def graph_rebuild(
    *, batch_size: int, restart: bool = False, progress: Progress | None = None
) -> RebuildProgress:
    """Rebuild the projection (resuming an interrupted rebuild unless ``restart``)."""
    if restart:
        RebuildCheckpoint.objects.filter(name=CHECKPOINT).delete()
    checkpoint, _ = RebuildCheckpoint.objects.get_or_create(
        name=CHECKPOINT, defaults={"phase": PHASES[0], "started_at": timezone.now()}
    )
    items_total, edges_total = _totals()
    state = RebuildProgress(
        phase=checkpoint.phase,
        items_done=checkpoint.items_done,
        items_total=items_total,
        edges_total=edges_total,
        edges_done=checkpoint.edges_done,
        done_at_start=checkpoint.items_done + checkpoint.edges_done,
    )
    # A checkpoint in a phase this code no longer has (the catalogue edges, no longer
    # projected) resumes with the taste edges, the phase that followed it.
    first = PHASES.index(checkpoint.phase) if checkpoint.phase in PHASES else PHASES.index("taste")
    for phase in PHASES[first:]:
        state.phase = phase
        if phase == "wipe":
            _wipe(batch_size)
        elif phase != "done":
            rows, write = _phase_writer(phase)
            for batch in _batches(rows, after=checkpoint.last_id, batch_size=batch_size):
                write(batch)
                if phase in ("users", *ITEM_PHASES):
                    state.items_done += len(batch)
                else:
                    state.edges_done += len(batch)
                checkpoint.last_id = batch[-1]["pk"]
                checkpoint.items_done, checkpoint.edges_done = state.items_done, state.edges_done
                checkpoint.save(update_fields=["last_id", "items_done", "edges_done", "updated_at"])
                if progress:
                    progress(state)
        next_phase = PHASES[min(PHASES.index(phase) + 1, len(PHASES) - 1)]
        checkpoint.phase, checkpoint.last_id = next_phase, 0
        checkpoint.save(update_fields=["phase", "last_id", "updated_at"])
    checkpoint.delete()
    if progress:
        progress(state)
    return state
