"""The projection: outbox rows written with each taste write, applied after commit,
idempotently and in any order; kept (and retried with backoff) while Neo4j is down."""

from __future__ import annotations

import io
import logging
import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.connection import drivers_reset, sync_driver
from graph.models import EdgeVersion, ItemPopularity, OutboxOperation, ProjectionOutbox, UserLibrary
from graph.projection import ApplyReport, outbox_row_apply, projection_apply, projection_wait
from musicbud.models import ItemKind, Relation, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tests.factories import TrackFactory, UserFactory


def edge_rows() -> QuerySet[ProjectionOutbox]:
    # Creating a user also queues its node (tests/graph/test_node_projection.py).
    return ProjectionOutbox.objects.filter(
        operation__in=(OutboxOperation.UPSERT, OutboxOperation.DELETE)
    )


def graph_rows(query: str, **params: object) -> list[dict[str, object]]:
    with sync_driver().session() as session:
        return [record.data() for record in session.run(query, params)]


def likes_in_graph(user: User, track: Track) -> list[dict[str, object]]:
    return graph_rows(
        "MATCH (u:User {public_id: $u})-[r:LIKES]->(t:Track {public_id: $t}) "
        "RETURN r.version AS version, t.name AS name, u.username AS username",
        u=str(user.public_id),
        t=str(track.public_id),
    )


@pytest.mark.django_db
def test_each_write_records_a_versioned_outbox_row_and_the_library_size() -> None:
    user, track = UserFactory.create(), TrackFactory.create(name="Blue in Green")

    _, created = taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    assert created is True
    _, created = taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    assert created is False
    assert (
        taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
        is True
    )
    assert (
        taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
        is False
    )

    rows = list(edge_rows().order_by("id"))
    # Liking again changes nothing, so it writes nothing: no version, no outbox row.
    assert [(r.operation, r.version) for r in rows] == [
        (OutboxOperation.UPSERT, 1),
        (OutboxOperation.DELETE, 2),
    ]
    assert {(r.user_public_id, r.item_public_id, r.item_name) for r in rows} == {
        (user.public_id, track.public_id, "Blue in Green")
    }
    assert all(r.applied_at is None for r in rows)
    assert EdgeVersion.objects.get(user_id=user.pk, item_id=track.pk).version == 2
    assert UserLibrary.objects.get(user=user).like_track == 0
    assert not TasteEdge.objects.exists()


@pytest.mark.django_db
def test_outbox_row_rolls_back_with_the_write() -> None:
    user, track = UserFactory.create(), TrackFactory.create()

    def like_in_a_failing_transaction() -> None:
        with transaction.atomic():
            taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
            raise RuntimeError("the caller's transaction fails after the like")

    with pytest.raises(RuntimeError, match="fails after the like"):
        like_in_a_failing_transaction()

    assert not TasteEdge.objects.exists()
    assert not edge_rows().exists()
    assert not EdgeVersion.objects.exists()
    assert not UserLibrary.objects.exists()
    assert not ItemPopularity.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_rows_are_applied_to_the_graph_after_commit(neo4j_graph: str) -> None:
    user = UserFactory.create(username="miles")
    track = TrackFactory.create(name="So What")

    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    projection_wait()

    row = edge_rows().get()
    assert row.applied_at is not None
    assert row.attempts == 1
    assert likes_in_graph(user, track) == [{"version": 1, "name": "So What", "username": "miles"}]


@pytest.mark.django_db
def test_applying_a_row_twice_changes_the_graph_once(neo4j_graph: str) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    row = edge_rows().get()

    assert outbox_row_apply(row) is True
    assert outbox_row_apply(row) is False

    assert len(likes_in_graph(user, track)) == 1
    assert graph_rows("MATCH (u:User) RETURN count(u) AS n") == [{"n": 1}]
    assert graph_rows("MATCH (t:Track) RETURN count(t) AS n") == [{"n": 1}]


@pytest.mark.django_db
@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_like_then_unlike_ends_with_no_edge_in_any_order(
    neo4j_graph: str, order: tuple[int, int]
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    rows = list(edge_rows().order_by("version"))

    results = [outbox_row_apply(rows[index]) for index in order]

    # The delete (version 2) always applies; the like applies only before it.
    assert results == ([True, True] if order == (0, 1) else [True, False])
    assert likes_in_graph(user, track) == []
    assert graph_rows("MATCH (s:EdgeState) RETURN s.version AS version") == [{"version": 2}]


@pytest.mark.django_db
def test_a_newer_top_rank_is_not_overwritten_by_an_older_row(neo4j_graph: str) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    for rank in (3, 1):
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.TOP, rank=rank)
    first, second = edge_rows().order_by("version")

    assert outbox_row_apply(second) is True
    assert outbox_row_apply(first) is False

    assert graph_rows("MATCH ()-[r:TOP]->() RETURN r.rank AS rank, r.version AS v") == [
        {"rank": 1, "v": 2}
    ]


@pytest.mark.django_db
def test_the_worker_skips_rows_a_newer_write_superseded(neo4j_graph: str) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)

    report = projection_apply()

    # Applied: the user's node row and the unlike; skipped: the superseded like.
    assert (report.applied, report.skipped, report.failed) == (2, 1, 0)
    assert edge_rows().filter(applied_at__isnull=True).count() == 0
    assert edge_rows().get(version=1).last_error == "superseded by a newer version"
    assert likes_in_graph(user, track) == []


@pytest.mark.django_db(transaction=True)
def test_with_neo4j_down_the_write_succeeds_and_the_row_stays_queued(
    dead_bolt_url: str,
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()

    _, created = taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    assert created is True
    projection_wait()

    assert TasteEdge.objects.filter(user=user, track=track, relation=Relation.LIKE).count() == 1
    row = edge_rows().get()
    assert row.applied_at is None
    assert row.attempts == 1
    assert row.last_error.startswith("ServiceUnavailable")
    assert row.next_attempt_at is not None
    delay = (row.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < delay <= 1.0


@pytest.mark.django_db
def test_the_worker_retries_with_exponential_backoff_until_neo4j_is_back(
    dead_bolt_url: str, bolt_url: str, settings: SettingsWrapper
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    # Only the edge's row is under test here (a pass stops at the first failing row).
    ProjectionOutbox.objects.all().delete()
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    delays = []
    for _ in range(3):
        call_command("graph_worker", "--once", stdout=io.StringIO())
        row = edge_rows().get()
        assert row.next_attempt_at is not None
        delays.append(round((row.next_attempt_at - timezone.now()).total_seconds()))
        # Not due yet: another pass leaves it alone.
        assert projection_apply().processed == 0
        edge_rows().update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert delays == [1, 2, 4]
    assert edge_rows().get().attempts == 3

    settings.NEO4J_URL = bolt_url
    drivers_reset()
    with sync_driver().session() as session:
        session.run("MATCH (n) DETACH DELETE n").consume()
    out = io.StringIO()
    call_command("graph_worker", "--once", stdout=out)

    row = edge_rows().get()
    assert row.applied_at is not None
    assert row.attempts == 4
    assert row.last_error == ""
    assert out.getvalue().strip() == "applied 1, skipped 0, failed 0; pending 0; pruned 0"
    assert len(likes_in_graph(user, track)) == 1


@pytest.mark.django_db
def test_edge_properties_reach_the_graph(neo4j_graph: str) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    played_at = timezone.now().replace(microsecond=0)
    taste_edge_set(
        user=user,
        kind=ItemKind.TRACK,
        item=track,
        relation=Relation.PLAYED,
        play_count=42,
        last_played_at=played_at,
    )
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.TOP, rank=3)

    # The user's node row and the two edges.
    assert projection_apply().applied == 3

    assert graph_rows(
        "MATCH ()-[r:PLAYED]->() RETURN r.count AS count, r.last_at AS last_at, r.version AS v"
    ) == [{"count": 42, "last_at": played_at.timestamp(), "v": 1}]
    top = graph_rows("MATCH ()-[r:TOP]->() RETURN r.rank AS rank, r.at AS at")
    edge = TasteEdge.objects.get(relation=Relation.TOP)
    assert top == [{"rank": 3, "at": edge.updated_at.timestamp()}]


@pytest.mark.django_db(transaction=True)
def test_appliers_racing_on_the_same_nodes_retry_in_place_and_apply_every_row(
    neo4j_graph: str, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    # Three people like the same 20 new songs; six appliers (web workers and the graph worker)
    # apply every row twice in a shuffled order. Their MERGEs of the same new nodes collide:
    # ArcadeDB answers DeadlockDetected or a unique-constraint failure to the loser.
    settings.NEO4J_URL = None
    users = UserFactory.create_batch(3)
    tracks = TrackFactory.create_batch(20)
    for user in users:
        for track in tracks:
            taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    settings.NEO4J_URL = neo4j_graph
    rows = list(ProjectionOutbox.objects.order_by("id")) * 2
    random.Random(7).shuffle(rows)
    errors: list[BaseException] = []

    def apply(chunk: list[ProjectionOutbox]) -> None:
        for row in chunk:
            try:
                outbox_row_apply(row)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

    with caplog.at_level(logging.INFO, logger="graph.projection"):
        threads = [threading.Thread(target=apply, args=(rows[i::6],)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    likes = graph_rows(
        "MATCH (u:User)-[r:LIKES]->(t:Track) RETURN u.public_id AS u, t.public_id AS t"
    )
    assert sorted((row["u"], row["t"]) for row in likes) == sorted(
        (str(user.public_id), str(track.public_id)) for user in users for track in tracks
    )
    assert graph_rows("MATCH (u:User) RETURN count(u) AS n") == [{"n": 3}]
    assert graph_rows("MATCH (t:Track) RETURN count(t) AS n") == [{"n": 20}]
    # The collisions happened and were retried, each saying why.
    retried = [r for r in caplog.records if r.getMessage() == "graph projection conflict; retrying"]
    assert retried
    assert all(
        str(r.__dict__["error"]).startswith(("TransientError (", "ConstraintError ("))
        for r in retried
    )


@pytest.mark.django_db
def test_a_failed_row_is_logged_with_its_cause(
    dead_bolt_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    ProjectionOutbox.objects.all().delete()
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    row = edge_rows().get()

    with caplog.at_level(logging.WARNING, logger="graph.projection"):
        assert projection_apply() == ApplyReport(failed=1)

    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith(
        f"graph projection of outbox row {row.pk} failed (graph store unreachable), "
        "pending for the worker: ServiceUnavailable: "
    )
    assert record.__dict__["error"] == edge_rows().get().last_error
    assert record.__dict__["outbox_id"] == row.pk
    assert record.__dict__["attempts"] == 1
