"""The statistics of many edges added or removed at once (the bulk entry points)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from graph.models import CellPopulation
from graph.stats import taste_stats_add, taste_stats_refresh, taste_stats_remove
from graph.types import EdgeKey
from musicbud.models import ItemKind, Relation, TasteEdge
from tests.factories import ArtistFactory, TrackFactory, UserFactory
from tests.musicbud.services.test_taste import exact_stats

pytestmark = pytest.mark.django_db


def bulk_edges() -> tuple[list[TasteEdge], list[EdgeKey]]:
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
    _, keys = bulk_edges()

    with CaptureQueriesContext(connection) as queries:
        taste_stats_add(edges=keys)
    counted = exact_stats()
    taste_stats_refresh()

    # Library sizes, the cells libraries entered, holders: one statement each.
    assert len(queries) == 3
    assert counted == exact_stats()


def test_removing_many_edges_at_once_uncounts_them() -> None:
    edges, keys = bulk_edges()
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
    _, keys = bulk_edges()
    taste_stats_add(edges=keys[:1])

    taste_stats_remove(edges=[keys[0], keys[0], keys[3]])  # more than was counted

    assert exact_stats() == (set(), set(), set())
