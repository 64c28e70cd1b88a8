"""The projection of taste edges, users and items into Neo4j: outbox rows applied idempotently in
explicit transactions (versions decide, whatever the order), failures retried with backoff."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from graph.connection import graph_configured, sync_driver
from graph.labels import LABEL_FOR_KIND, TYPE_FOR_RELATION, USER
from graph.models import (
    NODE_OPERATIONS,
    EdgeVersion,
    NodeVersion,
    OutboxOperation,
    ProjectionOutbox,
)
from musicbud.kinds import ITEM_MODELS
from musicbud.models import Relation, User

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import neo4j


def graph_errors() -> tuple[type[Exception], ...]:
    """What a failed graph call can raise: the server refused, or it could not be reached.

    A function, not a constant: the driver is imported only by processes that use it.
    """
    from neo4j.exceptions import DriverError, Neo4jError

    return (Neo4jError, DriverError, OSError)


# A row whose transaction lost a race (a deadlock, or two appliers MERGE-ing the same new node:
# ArcadeDB reports the loser as a unique-constraint failure) is retried in place this many
# times in all, after a short randomised pause, before it is left to the worker's backoff.
TRANSIENT_ATTEMPTS = 4
TRANSIENT_PAUSE_SECONDS = 0.05


def transient_graph_error(exc: BaseException) -> bool:
    """Whether retrying the same transaction may succeed: the server says so (deadlocks, lock
    timeouts: ``TransientError``), or a concurrent ``MERGE`` created the node first (every
    projector write is a ``MERGE``, so a second attempt matches the node instead)."""
    from neo4j.exceptions import ConstraintError, Neo4jError

    if isinstance(exc, ConstraintError):
        return True
    return isinstance(exc, Neo4jError) and exc.is_retryable()


def graph_error_text(exc: BaseException) -> str:
    """What went wrong, for a log line or ``last_error``: the class, the server's code, and its
    message."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' ({code})' if code else ''}: {exc}"


_executor_lock = Lock()
_executor: ThreadPoolExecutor | None = None
_futures: set[Future[None]] = set()


@dataclass(frozen=True, slots=True)
class ApplyReport:
    applied: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def processed(self) -> int:
        return self.applied + self.skipped + self.failed


def edge_properties(
    *,
    relation: str,
    version: int,
    changed_at: datetime | None,
    rank: int | None,
    play_count: int | None,
    last_played_at: datetime | None,
) -> dict[str, Any]:
    """Properties of one taste relationship; times as epoch seconds, as neomodel stores them."""
    props: dict[str, Any] = {"version": version}
    if relation == Relation.PLAYED:
        props["count"] = play_count
        props["last_at"] = last_played_at.timestamp() if last_played_at else None
    else:
        props["at"] = changed_at.timestamp() if changed_at else None
    if relation == Relation.TOP:
        props["rank"] = rank
    return props


def _user_node(row: ProjectionOutbox, *, active: bool) -> dict[str, Any]:
    """The properties of the user's node, from a row that carries the user."""
    return {
        "sql_id": row.user_pk,
        "username": row.username,
        "display_name": row.display_name,
        "is_active": active,
    }


def _item_node(row: ProjectionOutbox) -> dict[str, Any]:
    """The properties of the item's node, from a row that carries the item."""
    return {"sql_id": row.item_pk, "name": row.item_name}


def _apply_row(tx: neo4j.ManagedTransaction, row: ProjectionOutbox) -> bool:
    """Apply one row inside a transaction; False when a newer version is already there."""
    label = LABEL_FOR_KIND[row.kind]
    rel_type = TYPE_FOR_RELATION[row.relation]
    params: dict[str, Any] = {
        "key": row.edge_key,
        "user": str(row.user_public_id),
        "item": str(row.item_public_id),
        "version": row.version,
    }
    # Writing the state node first takes its lock, so two appliers of one edge serialise.
    state = tx.run(
        "MERGE (s:EdgeState {key: $key}) ON CREATE SET s.version = 0 "
        "SET s.locked = true RETURN s.version AS version",
        params,
    ).single()
    edge = tx.run(
        f"MATCH (:User {{public_id: $user}})-[r:{rel_type}]->(:{label} {{public_id: $item}}) "
        "RETURN r.version AS version",
        params,
    ).single()
    current = max(
        int(state["version"]) if state and state["version"] is not None else 0,
        int(edge["version"]) if edge and edge["version"] is not None else 0,
    )
    if row.version <= current:
        return False
    if row.operation == OutboxOperation.UPSERT:
        # A node deleted since (its NodeState says so) is not brought back by an older edge
        # row; names and the active flag are set only on creation, since the node's own rows
        # carry their changes (an older edge row must not undo a rename).
        gone = tx.run(
            "MATCH (s:NodeState) WHERE s.key IN [$user_key, $item_key] AND s.deleted = true "
            "RETURN count(s) AS n",
            {
                "user_key": f"user|{row.user_public_id}",
                "item_key": f"{row.kind}|{row.item_public_id}",
            },
        ).single()
        if gone and int(gone["n"]) > 0:
            return False
        tx.run(
            f"MERGE (u:User {{public_id: $user}}) ON CREATE SET u += $user_node "
            f"MERGE (i:{label} {{public_id: $item}}) ON CREATE SET i += $item_node "
            f"MERGE (u)-[r:{rel_type}]->(i) SET r += $props",
            {
                **params,
                # Set on creation only (see above): a node an edge creates starts active.
                "user_node": _user_node(row, active=True),
                "item_node": _item_node(row),
                "props": edge_properties(
                    relation=row.relation,
                    version=row.version,
                    changed_at=row.changed_at,
                    rank=row.rank,
                    play_count=row.play_count,
                    last_played_at=row.last_played_at,
                ),
            },
        )
    else:
        tx.run(
            f"MATCH (:User {{public_id: $user}})-[r:{rel_type}]->(:{label} {{public_id: $item}}) "
            "DELETE r",
            params,
        )
    tx.run("MATCH (s:EdgeState {key: $key}) SET s.version = $version", params)
    return True


def _apply_node_row(tx: neo4j.ManagedTransaction, row: ProjectionOutbox) -> bool:
    """Apply a user or item row: the node's ``NodeState`` orders its versions (and remembers a
    deletion) as ``EdgeState`` does an edge's."""
    params: dict[str, Any] = {"key": row.node_key, "version": row.version}
    state = tx.run(
        "MERGE (s:NodeState {key: $key}) ON CREATE SET s.version = 0 "
        "SET s.locked = true RETURN s.version AS version",
        params,
    ).single()
    current = int(state["version"]) if state and state["version"] is not None else 0
    if row.version <= current:
        return False
    operation = row.operation
    if operation == OutboxOperation.USER_UPSERT:
        tx.run(
            "MERGE (u:User {public_id: $public_id}) SET u += $node",
            {
                "public_id": str(row.user_public_id),
                "node": _user_node(row, active=bool(row.user_is_active)),
            },
        )
    elif operation == OutboxOperation.ITEM_UPSERT:
        tx.run(
            f"MERGE (i:{LABEL_FOR_KIND[row.kind]} {{public_id: $public_id}}) SET i += $node",
            {"public_id": str(row.item_public_id), "node": _item_node(row)},
        )
    else:
        label = USER if operation == OutboxOperation.USER_DELETE else LABEL_FOR_KIND[row.kind]
        public_id = row.user_public_id if label == USER else row.item_public_id
        tx.run(
            f"MATCH (n:{label} {{public_id: $public_id}}) DETACH DELETE n",
            {"public_id": str(public_id)},
        )
    deleted = operation in (OutboxOperation.USER_DELETE, OutboxOperation.ITEM_DELETE)
    tx.run(
        "MATCH (s:NodeState {key: $key}) SET s.version = $version, s.deleted = $deleted",
        {**params, "deleted": deleted},
    )
    return True


def outbox_row_apply(row: ProjectionOutbox) -> bool:
    """Apply one row to Neo4j in an explicit transaction; True when it changed the graph.

    A transaction that lost a race with another applier is retried here, a few times (see
    ``TRANSIENT_ATTEMPTS``); any other failure is raised at once for the outbox's backoff.
    """
    apply = _apply_node_row if row.operation in NODE_OPERATIONS else _apply_row
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            with sync_driver().session(database=settings.NEO4J_DATABASE) as session:
                # The driver's own retries are off (max_transaction_retry_time=0, which also
                # bounds reads): the loop here retries races, the outbox everything else.
                return bool(session.execute_write(apply, row))
        except graph_errors() as exc:
            if attempt == TRANSIENT_ATTEMPTS or not transient_graph_error(exc):
                raise
            logger.info(
                "graph projection conflict; retrying",
                extra={"outbox_id": row.pk, "attempt": attempt, "error": graph_error_text(exc)},
            )
            # Randomised so that the appliers that collided do not collide again.
            pause = TRANSIENT_PAUSE_SECONDS * 2 ** (attempt - 1)
            time.sleep(pause * (0.5 + random.random()))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base, ... capped at GRAPH_RETRY_MAX_SECONDS."""
    seconds = settings.GRAPH_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.GRAPH_RETRY_MAX_SECONDS))


def _superseded(row: ProjectionOutbox) -> bool:
    # A newer committed write of the same edge or node exists: its own row carries the newer
    # state.
    if row.operation in NODE_OPERATIONS:
        user_row = row.operation in (OutboxOperation.USER_UPSERT, OutboxOperation.USER_DELETE)
        node_id = row.user_pk if user_row else row.item_pk
        return NodeVersion.objects.filter(
            kind="user" if user_row else row.kind, node_id=node_id or 0, version__gt=row.version
        ).exists()
    newer = EdgeVersion.objects.filter(
        user_id=row.user_pk or 0,
        relation=row.relation,
        kind=row.kind,
        item_id=row.item_pk or 0,
        version__gt=row.version,
    ).exists()
    if newer or row.operation == OutboxOperation.DELETE:
        return newer
    # The user or item was deleted since (its node row removes the edge): never re-create it,
    # even after a rebuild wiped the NodeState that remembers the deletion in the graph.
    return not (
        User.objects.filter(pk=row.user_pk or 0).exists()
        and ITEM_MODELS[row.kind]._default_manager.filter(pk=row.item_pk or 0).exists()
    )


def projection_apply(
    *, row_ids: Sequence[int] | None = None, limit: int | None = None
) -> ApplyReport:
    """Apply pending outbox rows (the given ones, or those due for a retry) in id order.

    A row that fails (after ``outbox_row_apply``'s retries of lost races) stays pending with
    its next attempt pushed back and the cause in ``last_error`` and the log; the first failure
    ends the pass, since every later row would most likely wait on the same dead server.
    """
    from neo4j.exceptions import Neo4jError

    now = timezone.now()
    pending = ProjectionOutbox.objects.filter(applied_at__isnull=True)
    if row_ids is not None:
        pending = pending.filter(pk__in=row_ids)
    else:
        pending = pending.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    rows = list(pending.order_by("id")[: limit or settings.GRAPH_WORKER_BATCH_SIZE])
    applied = skipped = failed = 0
    for row in rows:
        if _superseded(row):
            ProjectionOutbox.objects.filter(pk=row.pk).update(
                applied_at=timezone.now(), last_error="superseded by a newer version"
            )
            skipped += 1
            continue
        try:
            changed = outbox_row_apply(row)
        except graph_errors() as exc:
            attempts = row.attempts + 1
            error = graph_error_text(exc)
            ProjectionOutbox.objects.filter(pk=row.pk).update(
                attempts=attempts,
                next_attempt_at=timezone.now() + retry_delay(attempts),
                last_error=error[:500],
            )
            failed += 1
            logger.warning(
                "graph projection of outbox row %s failed (%s), pending for the worker: %s",
                row.pk,
                "refused by the graph store"
                if isinstance(exc, Neo4jError)
                else "graph store unreachable",
                error[:500],
                extra={"outbox_id": row.pk, "attempts": attempts, "error": error[:500]},
            )
            break
        ProjectionOutbox.objects.filter(pk=row.pk).update(
            applied_at=timezone.now(), attempts=row.attempts + 1, last_error=""
        )
        if changed:
            applied += 1
        else:
            skipped += 1
    return ApplyReport(applied=applied, skipped=skipped, failed=failed)


def _apply_in_background(row_ids: list[int]) -> None:
    try:
        projection_apply(row_ids=row_ids)
    except Exception:  # the worker retries whatever this pass left pending
        logger.exception("graph projection pass failed", extra={"outbox_ids": row_ids})
    finally:
        # This thread is not a request: nothing else closes its DB connection.
        close_old_connections()


def projection_dispatch(*, row_ids: list[int]) -> None:
    """After commit: apply the rows in a background thread so the request never waits on Neo4j.

    Without a configured graph store the rows simply stay in the outbox (``graph_worker`` or
    ``graph_rebuild`` projects them once one is configured).
    """
    global _executor
    if not graph_configured():
        return
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-projector")
        future = _executor.submit(_apply_in_background, row_ids)
        _futures.add(future)
    future.add_done_callback(_futures.discard)


def projection_wait(timeout: float | None = None) -> None:
    """Wait for the background projector passes started so far (tests use it)."""
    with _executor_lock:
        futures = list(_futures)
    wait(futures, timeout=timeout)


async def user_projection_pending(*, user_id: int) -> bool:
    """Whether any of the user's own taste writes is not in the graph yet (committed, its
    outbox row still pending): until it is, reads about them are answered from SQL."""
    return await ProjectionOutbox.objects.filter(
        user_pk=user_id,
        applied_at__isnull=True,
        operation__in=(OutboxOperation.UPSERT, OutboxOperation.DELETE),
    ).aexists()


@dataclass(frozen=True, slots=True)
class ProjectionLag:
    pending: int
    oldest_age_seconds: float | None


def projection_oldest_age() -> float | None:
    """Seconds since the oldest pending row was written (None when caught up): one probe of
    the pending rows' ``created_at`` index, whatever the backlog, so readiness can ask it on
    every probe."""
    oldest = (
        ProjectionOutbox.objects.filter(applied_at__isnull=True)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (timezone.now() - oldest).total_seconds() if oldest else None


def projection_lag() -> ProjectionLag:
    """How far the projection is behind: pending rows (counted: for the metrics scrape and the
    worker's report, not for every readiness probe) and the age of the oldest one."""
    pending = ProjectionOutbox.objects.filter(applied_at__isnull=True).count()
    return ProjectionLag(pending=pending, oldest_age_seconds=projection_oldest_age())
