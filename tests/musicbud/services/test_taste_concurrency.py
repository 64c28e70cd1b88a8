"""Concurrent taste writes on PostgreSQL: counters shared by many users (a cell's user count,
an item's holder count) neither deadlock nor lose updates, and writes of one edge serialise."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections

from graph.models import (
    CellPopulation,
    EdgeVersion,
    ItemPopularity,
    OutboxOperation,
    ProjectionOutbox,
)
from graph.stats import taste_stats_refresh
from musicbud.models import Album, Artist, ItemKind, Relation, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from musicbud.services.taste_import import ImportEntry, ImportReport, taste_import
from tests.conftest import require_service
from tests.factories import TrackFactory, UserFactory
from tests.musicbud.services.test_taste import exact_stats

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4
ROUNDS = 12


def _run_together(jobs: list[Callable[[], object]]) -> list[BaseException]:
    """Run the jobs in threads released at the same instant; each thread has its own
    connection (closed at its end). Returns what they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def _like(user: User, track: Track) -> Callable[[], object]:
    return lambda: taste_edge_set(
        user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE
    )


def _unlike(user: User, track: Track) -> Callable[[], object]:
    return lambda: taste_edge_remove(
        user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE
    )


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")


def test_concurrent_likes_of_one_item_count_every_holder() -> None:
    tracks = TrackFactory.create_batch(ROUNDS)
    # Fresh users: each first like also adds them to the cell's user count at the same time.
    users = UserFactory.create_batch(THREADS)

    for track in tracks:
        assert _run_together([_like(user, track) for user in users]) == []

    assert set(ItemPopularity.objects.values_list("item_id", "holders")) == {
        (track.pk, THREADS) for track in tracks
    }
    assert CellPopulation.objects.get(relation="like", kind="track").users == THREADS
    counted = exact_stats()
    taste_stats_refresh()
    assert counted == exact_stats()


def test_concurrent_likes_and_unlikes_of_one_item_end_exact() -> None:
    tracks = TrackFactory.create_batch(ROUNDS)
    users = UserFactory.create_batch(THREADS)
    leaving, staying = users[: THREADS // 2], users[THREADS // 2 :]
    for track in tracks:
        for user in leaving:
            taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)

    for track in tracks:
        jobs = [_unlike(user, track) for user in leaving] + [_like(u, track) for u in staying]
        assert _run_together(jobs) == []

    assert set(ItemPopularity.objects.values_list("item_id", "holders")) == {
        (track.pk, len(staying)) for track in tracks
    }
    # The leavers emptied their library in the cell (on the last round), the others joined.
    assert CellPopulation.objects.get(relation="like", kind="track").users == len(staying)
    counted = exact_stats()
    taste_stats_refresh()
    assert counted == exact_stats()


def test_a_like_and_an_unlike_of_one_edge_at_once_serialise() -> None:
    user, other = UserFactory.create_batch(2)
    tracks = TrackFactory.create_batch(ROUNDS)
    for track in tracks:
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
        taste_edge_set(user=other, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)

    # Each round: unlike and like again of the same edge, by the same user, at the same time.
    for track in tracks:
        assert _run_together([_unlike(user, track), _like(user, track)]) == []

    for track in tracks:
        rows = ProjectionOutbox.objects.filter(user_pk=user.pk, item_pk=track.pk)
        newest = rows.order_by("-version").first()
        assert newest is not None
        liked = TasteEdge.objects.filter(user=user, track=track).exists()
        # The newest version describes what the database holds.
        assert newest.operation == (OutboxOperation.UPSERT if liked else OutboxOperation.DELETE)
        assert EdgeVersion.objects.get(user_id=user.pk, item_id=track.pk).version == (
            newest.version
        )
    counted = exact_stats()
    taste_stats_refresh()
    assert counted == exact_stats()


def test_concurrent_imports_of_the_same_new_items_all_succeed_and_create_each_once() -> None:
    users = UserFactory.create_batch(THREADS)
    entries = [
        ImportEntry(
            section="likes",
            index=0,
            relation="like",
            kind="track",
            name="Fresh",
            provider="spotify",
            external_id="fresh-1",
        ),
        ImportEntry(
            section="top",
            index=0,
            relation="top",
            kind="album",
            name="New LP",
            artist="Newcomer",
            rank=1,
        ),
    ]
    reports: list[ImportReport] = []

    def importer(user: User) -> Callable[[], object]:
        return lambda: reports.append(async_to_sync(taste_import)(user=user, entries=entries))

    errors = _run_together([importer(user) for user in users])

    assert errors == []
    assert Track.objects.filter(spotify_id="fresh-1").count() == 1
    assert Album.objects.filter(name="New LP").count() == 1
    assert Artist.objects.filter(name="Newcomer").count() == 1
    assert sorted(r.edges_created for r in reports) == [2] * THREADS
    # One import created the track, the album and its artist; the others matched them.
    assert sorted(r.items_created for r in reports) == [0] * (THREADS - 1) + [3]
    assert TasteEdge.objects.filter(user__in=users).count() == 2 * THREADS
