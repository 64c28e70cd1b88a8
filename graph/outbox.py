"""Outbox rows for the Neo4j projection, each with its edge's or node's next version, written in
the caller's transaction and applied after it commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from graph.counters import counters_add
from graph.models import EdgeVersion, NodeVersion, OutboxOperation, ProjectionOutbox
from graph.projection import projection_dispatch
from graph.types import EdgeChange, EdgeKey
from musicbud.models import CatalogueItem, ItemKind, User


def _edge_versions_add(keys: Sequence[EdgeKey], amount: int) -> dict[EdgeKey, int]:
    versions = counters_add(
        model=EdgeVersion,
        key=("user_id", "relation", "kind", "item_id"),
        counters=("version",),
        rows=(((key.user_id, key.relation, key.kind, key.item_id), (amount,)) for key in keys),
    )
    return {EdgeKey(*row_key): counts[0] for row_key, counts in versions.items()}


def edge_versions_lock(*, keys: Sequence[EdgeKey]) -> None:
    """Lock the edges' version rows until commit (creating them at version 0), in key order.

    Every write and removal of an edge takes this lock before touching the edge, so writers of
    one edge serialise instead of deadlocking, and versions increase in commit order.
    """
    _edge_versions_add(keys, 0)


def edge_changes_record(*, changes: Sequence[EdgeChange], queued: bool) -> list[ProjectionOutbox]:
    """Record what changing these edges writes beside them: each edge's next version and, when
    ``queued`` (a projection consumes them), the outbox row carrying it, applied to Neo4j after
    commit. The versions are kept either way: ``graph_rebuild`` projects them."""
    if not changes:
        return []
    keys = [change.key for change in changes]
    latest = _edge_versions_add(keys, 1)
    # Changes of one edge in one call take consecutive versions, in the order given.
    taken = Counter(keys)
    versions = []
    for key in keys:
        versions.append(latest[key] - taken[key] + 1)
        taken[key] -= 1
    if not queued:
        return []
    now = timezone.now()
    rows = ProjectionOutbox.objects.bulk_create(
        [
            _edge_row(change, version=version, now=now)
            for change, version in zip(changes, versions, strict=True)
        ]
    )
    _dispatch_on_commit(rows)
    return rows


def _user_columns(user: User) -> dict[str, object]:
    """What a row carries of its user: an edge's row creates the user's node if need be."""
    return {
        "user_pk": user.pk,
        "user_public_id": user.public_id,
        "username": user.username,
        "display_name": user.display_name,
    }


def _item_columns(item: CatalogueItem) -> dict[str, object]:
    """What a row carries of its item, likewise."""
    return {"item_pk": item.pk, "item_public_id": item.public_id, "item_name": item.name}


def _edge_row(change: EdgeChange, *, version: int, now: datetime) -> ProjectionOutbox:
    edge = change.edge
    return ProjectionOutbox(
        operation=OutboxOperation.DELETE if edge is None else OutboxOperation.UPSERT,
        relation=change.relation,
        kind=change.kind,
        version=version,
        **_user_columns(change.user),
        **_item_columns(change.item),
        rank=edge.rank if edge else None,
        play_count=edge.play_count if edge else None,
        last_played_at=edge.last_played_at if edge else None,
        changed_at=edge.updated_at if edge else now,
    )


def _node_record(
    *, operation: str, node_kind: str, node_id: int, queued: bool, **fields: object
) -> ProjectionOutbox | None:
    with transaction.atomic(savepoint=False):
        versions = counters_add(
            model=NodeVersion,
            key=("kind", "node_id"),
            counters=("version",),
            rows=[((node_kind, node_id), (1,))],
        )
        if not queued:
            return None
        row = ProjectionOutbox.objects.create(
            operation=operation,
            version=versions[(node_kind, node_id)][0],
            changed_at=timezone.now(),
            **fields,
        )
        _dispatch_on_commit([row])
    return row


def user_node_record(*, user: User, queued: bool, deleted: bool = False) -> ProjectionOutbox | None:
    """Version the user's node and, when ``queued``, queue it for Neo4j (name, display name,
    active flag), or its deletion, in the caller's transaction (the user's save or delete)."""
    return _node_record(
        operation=OutboxOperation.USER_DELETE if deleted else OutboxOperation.USER_UPSERT,
        node_kind="user",
        node_id=user.pk,
        queued=queued,
        user_is_active=user.is_active,
        **_user_columns(user),
    )


def item_node_record(
    *, kind: str, item: CatalogueItem, queued: bool, deleted: bool = False
) -> ProjectionOutbox | None:
    """Version a catalogue item's node and, when ``queued``, queue it for Neo4j (its name), or
    its deletion."""
    kind = ItemKind(kind).value
    return _node_record(
        operation=OutboxOperation.ITEM_DELETE if deleted else OutboxOperation.ITEM_UPSERT,
        node_kind=kind,
        node_id=item.pk,
        queued=queued,
        kind=kind,
        **_item_columns(item),
    )


def outbox_prune(*, applied_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` rows applied before ``applied_before`` (oldest first, through the
    applied rows' index); the number deleted. Pending rows are never touched."""
    batch = list(
        ProjectionOutbox.objects.filter(applied_at__lt=applied_before)
        .order_by("applied_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not batch:
        return 0
    deleted, _ = ProjectionOutbox.objects.filter(pk__in=batch).delete()
    return deleted


def _dispatch_on_commit(rows: Sequence[ProjectionOutbox]) -> None:
    transaction.on_commit(partial(projection_dispatch, row_ids=[row.pk for row in rows]))
