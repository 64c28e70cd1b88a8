"""The statistics and outbox rows of many edge changes recorded at once (the bulk entry points)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from graph.counters import counters_add
from graph.models import CellPopulation, EdgeVersion, OutboxOperation, ProjectionOutbox
from graph.outbox import EdgeChange, edge_changes_record, edge_versions_lock
from graph.stats import taste_stats_add, taste_stats_refresh, taste_stats_remove
from graph.types import EdgeKey
from musicbud.models import ItemKind, Relation, TasteEdge
from tests.factories import ArtistFactory, TrackFactory, UserFactory
from tests.musicbud.services.test_taste import exact_stats

pytestmark = pytest.mark.django_db


def test_counters_add_sums_rows_sharing_a_key_and_returns_the_totals() -> None:
    first = counters_add(
        model=CellPopulation,
        key=("relation", "kind"),
        counters=("users",),
        rows=[(("like", "track"), (2,)), (("top", "genre"), (1,)), (("like", "track"), (3,))],
    )
    second = counters_add(
        model=CellPopulation,
        key=("relation", "kind"),
        counters=("users",),
        rows=[(("like", "track"), (1,)), (("played", "album"), (0,))],
    )

    assert first == {("like", "track"): (5,), ("top", "genre"): (1,)}
    assert second == {("like", "track"): (6,), ("played", "album"): (0,)}
    assert set(CellPopulation.objects.values_list("relation", "kind", "users")) == {
        ("like", "track", 6),
        ("top", "genre", 1),
        ("played", "album", 0),
    }


def _bulk_edges() -> tuple[list[TasteEdge], list[EdgeKey]]:
    ann, ben = UserFactory.create_batch(2)
    tracks = TrackFactory.create_batch(3)
    artist = ArtistFactory.create()
    edges = TasteEdge.objects.bulk_create(
        [
            *(
                TasteEdge(user=ann, relation=Relation.LIKE, kind=ItemKind.TRACK, track=t)
                for t in tracks
            ),
            TasteEdge(user=ben, relation=Relation.LIKE, kind=ItemKind.TRACK, track=tracks[0]),
            TasteEdge(user=ben, relation=Relation.TOP, kind=ItemKind.ARTIST, artist=artist, rank=1),
        ]
    )
    keys = [
        EdgeKey(edge.user_id, edge.relation, edge.kind, edge.track_id or edge.artist_id or 0)
        for edge in edges
    ]
    return edges, keys


def test_adding_many_edges_at_once_counts_what_a_refresh_counts() -> None:
    _, keys = _bulk_edges()

    with CaptureQueriesContext(connection) as queries:
        taste_stats_add(edges=keys)
    counted = exact_stats()
    taste_stats_refresh()

    # Library sizes, the cells libraries entered, holders: one statement each.
    assert len(queries) == 3
    assert counted == exact_stats()


def test_removing_many_edges_at_once_uncounts_them() -> None:
    edges, keys = _bulk_edges()
    taste_stats_add(edges=keys)
    gone = [edges[0], edges[3], edges[4]]  # ann's first like, both of ben's edges
    TasteEdge.objects.filter(pk__in=[edge.pk for edge in gone]).delete()

    taste_stats_remove(edges=[keys[0], keys[3], keys[4]])
    removed = exact_stats()
    taste_stats_refresh()

    assert removed == exact_stats()
    # Ben's library left both cells; ann's still holds two tracks.
    assert set(CellPopulation.objects.filter(users__gt=0).values_list("relation", "kind")) == {
        ("like", "track")
    }


def test_removing_never_counts_below_zero() -> None:
    _, keys = _bulk_edges()
    taste_stats_add(edges=keys[:1])

    taste_stats_remove(edges=[keys[0], keys[0], keys[3]])  # more than was counted

    assert exact_stats() == (set(), set(), set())


def test_many_edge_changes_take_versions_and_outbox_rows_in_two_statements(
    django_capture_on_commit_callbacks,
) -> None:
    edges, keys = _bulk_edges()
    edge_versions_lock(keys=keys[:1])
    changes = [
        EdgeChange(
            user=edge.user,
            relation=edge.relation,
            kind=edge.kind,
            item=edge.track or edge.artist,  # type: ignore[arg-type]
            edge=edge,
        )
        for edge in edges
    ]
    first_track = edges[0].track
    assert first_track is not None
    deleted = EdgeChange(
        user=edges[0].user, relation="like", kind="track", item=first_track, edge=None
    )

    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        rows = edge_changes_record(changes=[*changes, deleted])

    assert len(queries) == 2
    assert [(row.operation, row.version) for row in rows] == [
        *[(OutboxOperation.UPSERT, 1)] * 5,
        (OutboxOperation.DELETE, 2),
    ]
    assert [row.rank for row in rows] == [None, None, None, None, 1, None]
    edge_rows = ProjectionOutbox.objects.filter(operation__in=["upsert", "delete"])
    assert edge_rows.count() == 6
    assert EdgeVersion.objects.get(user_id=keys[0].user_id, item_id=keys[0].item_id).version == 2
    assert len(callbacks) == 1  # one dispatch of all six rows after commit
