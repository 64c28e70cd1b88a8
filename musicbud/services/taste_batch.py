"""Set-based writes of many taste edges of one user (a provider sync's diff, an import), in bulk
through the graph layer's write port (``graph.writes``): a few statements whatever the batch
size; what is already as wanted is not written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from graph.types import EdgeChange, EdgeKey
from musicbud.kinds import ITEM_MODELS
from musicbud.models import CatalogueItem, ItemKind, Relation, TasteEdge, User
from musicbud.services.taste import user_edges_write

CHUNK = 1000
# What the diff compares and writes; the item rows are read only for the edges removed.
EDGE_FIELDS = (
    "id",
    "user_id",
    "relation",
    "kind",
    "source",
    "rank",
    "play_count",
    "last_played_at",
    *(f"{kind.value}_id" for kind in ItemKind),
)
ItemEdge = tuple[str, str, int]  # one user's edge: relation, kind, item id


@dataclass(frozen=True, slots=True)
class WantedEdge:
    relation: str
    kind: str
    item: CatalogueItem
    rank: int | None = None
    play_count: int | None = None
    last_played_at: datetime | None = None

    @property
    def key(self) -> ItemEdge:
        return (self.relation, self.kind, self.item.pk)

    def values(self, current: TasteEdge | None = None) -> dict[str, object]:
        """The edge's properties as its relation keeps them (a play keeps its last time when
        none is given)."""
        if self.relation == Relation.TOP:
            return {"rank": self.rank}
        if self.relation == Relation.PLAYED:
            last = self.last_played_at
            if last is None and current is not None:
                last = current.last_played_at
            return {
                "play_count": self.play_count if self.play_count is not None else 1,
                "last_played_at": last,
            }
        return {}


def _counter() -> dict[str, int]:
    return {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}


@dataclass(slots=True)
class BatchReport:
    """What the batch did, per relation and kind (``counts[relation][kind][outcome]``);
    ``kept`` counts wanted edges left alone because another source owns them."""

    counts: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(_counter))
    )
    kept: int = 0

    def add(self, relation: str, kind: str, outcome: str) -> None:
        self.counts[relation][kind][outcome] += 1

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for kinds in self.counts.values() for c in kinds.values())

    def as_json(self) -> dict[str, dict[str, dict[str, int]]]:
        return {r: {k: dict(c) for k, c in kinds.items()} for r, kinds in self.counts.items()}


def _edges_for(user: User, keys: Iterable[ItemEdge]) -> dict[ItemEdge, TasteEdge]:
    by_cell: dict[tuple[str, str], list[int]] = defaultdict(list)
    for relation, kind, item_id in keys:
        by_cell[(relation, kind)].append(item_id)
    found: dict[ItemEdge, TasteEdge] = {}
    for (relation, kind), ids in by_cell.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = TasteEdge.objects.filter(
                user=user, relation=relation, kind=kind, **{f"{kind}_id__in": chunk}
            ).only(*EDGE_FIELDS)
            for edge in query:
                found[(relation, kind, int(edge.item_id or 0))] = edge
    return found


def taste_edges_apply(
    *,
    user: User,
    source: str,
    wanted: Sequence[WantedEdge],
    replace_source: bool = False,
    replace_top_kinds: Iterable[str] = (),
    replace_cells: Iterable[tuple[str, str]] = (),
    adopt_sources: Iterable[str] = (),
    update_any_source: bool = False,
    report: BatchReport | None = None,
) -> BatchReport:
    """Make the user's edges as ``wanted`` says, in one transaction.

    New edges are created with ``source``; an existing edge of ``source`` is updated when its
    rank or play count differ; an edge from another source is left alone (its owner decides)
    unless ``update_any_source`` (an import sets what it is given; the edge keeps its source).
    ``replace_source`` deletes the edges of ``source`` not wanted (a provider's sync);
    ``replace_top_kinds`` deletes the top edges of those kinds not wanted, whatever their
    source (an imported top list replaces the list: two lists would share ranks);
    ``replace_cells`` deletes the edges of ``source`` in those (relation, kind) cells not
    wanted (a history upload replaces only what its files describe). A wanted edge whose
    source is one of ``adopt_sources`` is taken over: it gets ``source`` and the wanted values
    (a history upload takes the edges its service's sync brought, so a disconnect keeps them).
    """
    report = report if report is not None else BatchReport()
    wanted_by_key = {edge.key: edge for edge in wanted}
    top_kinds = {ItemKind(kind).value for kind in replace_top_kinds}
    cells = {(Relation(relation).value, ItemKind(kind).value) for relation, kind in replace_cells}
    adopt = frozenset(adopt_sources) - {source}

    def is_stale(key: ItemEdge, edge: TasteEdge) -> bool:
        if key in wanted_by_key:
            return False
        return (
            (replace_source and edge.source == source)
            or (edge.relation == Relation.TOP and edge.kind in top_kinds)
            or (edge.source == source and (edge.relation, edge.kind) in cells)
        )

    def plan_for(edges: dict[ItemEdge, TasteEdge], keys: Iterable[ItemEdge]) -> dict[ItemEdge, str]:
        plan: dict[ItemEdge, str] = {}
        for key in keys:
            existing = edges.get(key)
            want = wanted_by_key.get(key)
            if want is None:
                if existing is not None and is_stale(key, existing):
                    plan[key] = "remove"
            elif existing is None:
                plan[key] = "add"
            elif existing.source in adopt:
                plan[key] = "update"
            elif existing.source == source or update_any_source:
                values = want.values(existing)
                if any(getattr(existing, name) != value for name, value in values.items()):
                    plan[key] = "update"
        return plan

    with transaction.atomic():
        current = _edges_for(user, wanted_by_key)
        stale_filter = Q(pk__in=[])
        if replace_source:
            stale_filter |= Q(source=source)
        if top_kinds:
            stale_filter |= Q(relation=Relation.TOP, kind__in=top_kinds)
        for relation, kind in sorted(cells):
            stale_filter |= Q(source=source, relation=relation, kind=kind)
        for edge in TasteEdge.objects.filter(stale_filter, user=user).only(*EDGE_FIELDS):
            key = (edge.relation, edge.kind, int(edge.item_id or 0))
            current.setdefault(key, edge)
        plan = plan_for(current, current.keys() | wanted_by_key.keys())
        if plan:
            # Lock exactly the edges that change, then read them again: a single write of
            # one of them between the read above and the lock is seen.
            keys = [_graph_key(user, key) for key in sorted(plan)]
            with user_edges_write(user=user, keys=keys) as write:
                reread = _edges_for(user, plan)
                for key in plan:
                    current.pop(key, None)
                current.update(reread)
                plan = plan_for(current, list(plan))
                changes = _write(user, source, wanted_by_key, current, plan, adopt=adopt)
                for change, created in changes:
                    write.record(change, created=created)
        outcome = {"add": "added", "update": "updated", "remove": "removed"}
        for key, action in plan.items():
            report.add(key[0], key[1], outcome[action])
        for key in wanted_by_key.keys() - plan.keys():
            report.add(key[0], key[1], "unchanged")
            existing = current.get(key)
            if existing is not None and existing.source != source:
                report.kept += 1
    return report


def _graph_key(user: User, key: ItemEdge) -> EdgeKey:
    relation, kind, item_id = key
    return EdgeKey(user.pk, relation, kind, item_id)


def _items_read(keys: Iterable[ItemEdge]) -> dict[tuple[str, int], CatalogueItem]:
    """The items of these edges, with what their outbox rows carry (public id, name)."""
    by_kind: dict[str, set[int]] = defaultdict(set)
    for _, kind, item_id in keys:
        by_kind[kind].add(item_id)
    found: dict[tuple[str, int], CatalogueItem] = {}
    for kind, ids in by_kind.items():
        manager = ITEM_MODELS[kind]._default_manager
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            rows = manager.filter(pk__in=ordered[start : start + CHUNK])
            for item in rows.only("id", "public_id", "name"):
                found[(kind, item.pk)] = item
    return found


def _write(
    user: User,
    source: str,
    wanted: dict[ItemEdge, WantedEdge],
    current: dict[ItemEdge, TasteEdge],
    plan: dict[ItemEdge, str],
    *,
    adopt: frozenset[str] = frozenset(),
) -> list[tuple[EdgeChange, bool]]:
    """Apply the plan in bulk; the changes to record (the edges' new states), each with
    whether it created its edge."""
    creates: dict[ItemEdge, TasteEdge] = {}
    updates: list[TasteEdge] = []
    update_fields: set[str] = set()
    removed_items = _items_read(key for key, action in plan.items() if action == "remove")
    for key, action in sorted(plan.items()):
        relation, kind, _ = key
        if action == "remove":
            continue
        want = wanted[key]
        values = want.values(current.get(key))
        if action == "add":
            creates[key] = TasteEdge(
                user=user,
                relation=relation,
                kind=kind,
                source=source,
                **{kind: want.item},
                **values,
            )
        else:
            updated = current[key]
            for name, value in values.items():
                setattr(updated, name, value)
            update_fields.update(values)
            if updated.source in adopt:
                updated.source = source
                update_fields.add("source")
            updates.append(updated)
    removes = sorted(current[key].pk for key, action in plan.items() if action == "remove")
    for start in range(0, len(removes), CHUNK):
        TasteEdge.objects.filter(pk__in=removes[start : start + CHUNK]).delete()
    TasteEdge.objects.bulk_create(list(creates.values()), batch_size=CHUNK)
    if updates:
        now = timezone.now()
        for updated in updates:
            updated.updated_at = now
        TasteEdge.objects.bulk_update(
            updates, [*sorted(update_fields), "updated_at"], batch_size=500
        )
    changes = []
    for key, action in sorted(plan.items()):
        relation, kind, item_id = key
        edge: TasteEdge | None
        if action == "remove":
            item, edge = removed_items[(kind, item_id)], None
        else:
            item, edge = wanted[key].item, creates.get(key) or current[key]
        change = EdgeChange(user=user, relation=relation, kind=kind, item=item, edge=edge)
        changes.append((change, action == "add"))
    return changes
