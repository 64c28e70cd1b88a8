"""The demo dataset: exact sizes, determinism, idempotency, skew, clusters, login."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.db.models import Count, Max
from django.test import Client
from django.test.utils import CaptureQueriesContext

from graph.models import UserLibrary
from graph.queries import buds_for_user
from graph.types import BudSource
from musicbud.errors import Conflict
from musicbud.models import (
    Album,
    Artist,
    EdgeSource,
    Genre,
    Relation,
    TasteEdge,
    Track,
    User,
)
from musicbud.services.taste import taste_edge_remove
from tests.factories import TrackFactory, UserFactory
from tooling.demo import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    DemoSeedResult,
    demo_counts,
    demo_plan,
    demo_reset,
    demo_seed,
)
from tooling.models import DemoDataset

pytestmark = pytest.mark.django_db

SMALL = {"users": 40, "tracks": 200, "edges": 1500, "seed": 7}
SMALL_COUNTS = {
    "users": 40,
    "genres": 3,  # min(30, max(3, 200 // 100))
    "artists": 16,  # 200 // 12
    "albums": 40,  # 200 // 5
    "tracks": 200,
    "edges": 1500,
}


def seed_small(*, reset: bool = False, **overrides: int) -> DemoSeedResult:
    sizes = {**SMALL, **overrides}
    return demo_seed(
        users=sizes["users"],
        tracks=sizes["tracks"],
        edges=sizes["edges"],
        seed=sizes["seed"],
        reset=reset,
    )


def snapshot() -> dict[str, Any]:
    """Every demo row by natural keys, so two databases' ids do not matter."""
    return {
        "users": sorted(User.objects.values_list("username", "email", "display_name", "bio")),
        "genres": sorted(Genre.objects.values_list("spotify_id", "name")),
        "artists": sorted(Artist.objects.values_list("spotify_id", "name", "genres__spotify_id")),
        "albums": sorted(
            Album.objects.values_list("spotify_id", "name", "release_year", "artists__spotify_id")
        ),
        "tracks": sorted(
            Track.objects.values_list(
                "spotify_id", "name", "duration_ms", "album__spotify_id", "artists__spotify_id"
            )
        ),
        "edges": sorted(
            TasteEdge.objects.values_list(
                "user__username",
                "relation",
                "kind",
                "track__spotify_id",
                "artist__spotify_id",
                "album__spotify_id",
                "genre__spotify_id",
                "rank",
                "play_count",
                "last_played_at",
                "source",
            ),
            key=repr,
        ),
    }


def test_small_run_has_exactly_the_planned_rows() -> None:
    result = seed_small()

    assert result.created is True
    assert result.counts == SMALL_COUNTS
    assert demo_counts() == SMALL_COUNTS
    # Nothing outside the demo dataset was written.
    assert User.objects.count() == 40
    assert Track.objects.count() == 200
    assert TasteEdge.objects.exclude(source=EdgeSource.DEMO).count() == 0


def test_catalogue_is_linked_like_real_music() -> None:
    seed_small()

    assert Track.objects.filter(album__isnull=True).count() == 0
    assert Track.objects.annotate(n=Count("artists")).filter(n=0).count() == 0
    assert set(Album.objects.annotate(n=Count("artists")).values_list("n", flat=True)) == {1}
    assert Artist.objects.annotate(n=Count("genres")).filter(n=0).count() == 0
    # Every artist has at least one album, so every artist has tracks too.
    assert Artist.objects.annotate(n=Count("albums")).filter(n=0).count() == 0


def test_edges_carry_the_fields_of_their_relation() -> None:
    seed_small()

    played = TasteEdge.objects.filter(relation="played")
    assert played.filter(play_count__isnull=True).count() == 0
    assert played.filter(play_count__lt=1).count() == 0
    assert played.filter(last_played_at__isnull=True).count() == 0
    assert TasteEdge.objects.filter(relation="like", rank__isnull=False).count() == 0
    # Top ranks run 1..n without gaps for each user and kind.
    for user_id, kind, top_rank, count in (
        TasteEdge.objects.filter(relation="top")
        .values_list("user", "kind")
        .annotate(top_rank=Max("rank"), count=Count("id"))
    ):
        assert top_rank == count, (user_id, kind)
    assert {"like", "top", "played"} == set(TasteEdge.objects.values_list("relation", flat=True))
    assert {"track", "artist", "album", "genre"} == set(
        TasteEdge.objects.values_list("kind", flat=True)
    )


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    seed_small()
    first = snapshot()

    demo_reset()
    assert demo_counts() == dict.fromkeys(SMALL_COUNTS, 0)
    seed_small()
    assert snapshot() == first

    seed_small(seed=8, reset=True)
    other = snapshot()
    assert other["edges"] != first["edges"]
    assert other["tracks"] != first["tracks"]


def test_second_run_changes_nothing() -> None:
    seed_small()
    before = snapshot()
    last_edge = TasteEdge.objects.aggregate(last=Max("id"))["last"]

    with CaptureQueriesContext(connection) as queries:
        result = seed_small()

    assert result.created is False
    assert result.counts == SMALL_COUNTS
    assert snapshot() == before
    assert TasteEdge.objects.aggregate(last=Max("id"))["last"] == last_edge
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []


def test_an_interrupted_run_is_completed_to_the_same_data() -> None:
    seed_small()
    before = snapshot()
    # An interrupted run wrote some edges and never recorded a completed dataset.
    DemoDataset.objects.all().delete()
    TasteEdge.objects.filter(pk__in=TasteEdge.objects.order_by("-id").values("id")[:300]).delete()
    assert demo_counts()["edges"] == 1200

    result = seed_small()

    assert result.created is True
    assert snapshot() == before


def test_what_demo_users_do_never_makes_a_later_run_refuse() -> None:
    seed_small()
    demo = User.objects.get(username=DEMO_USERNAME)
    demo.bio = "I love shoegaze"
    demo.save()
    liked = TasteEdge.objects.filter(user=demo, relation="like", kind="track").first()
    assert liked is not None
    assert liked.track is not None
    taste_edge_remove(user=demo, kind="track", item=liked.track, relation=Relation.LIKE)
    counts = demo_counts()

    result = seed_small()

    assert result.created is False
    assert result.counts == counts == {**SMALL_COUNTS, "edges": SMALL_COUNTS["edges"] - 1}
    demo.refresh_from_db()
    assert demo.bio == "I love shoegaze"


def test_other_parameters_are_refused_until_reset() -> None:
    seed_small()
    before = snapshot()

    with pytest.raises(Conflict, match="run seed_demo --reset"):
        seed_small(edges=1000)
    assert snapshot() == before

    result = seed_small(edges=1000, reset=True)
    assert result.counts == {**SMALL_COUNTS, "edges": 1000}


def test_reset_keeps_rows_that_are_not_demo_data() -> None:
    own_user = UserFactory.create(username="alice")
    own_track = TrackFactory.create(name="Mine")
    seed_small()

    demo_reset()

    assert list(User.objects.values_list("pk", flat=True)) == [own_user.pk]
    assert list(Track.objects.values_list("pk", flat=True)) == [own_track.pk]
    assert TasteEdge.objects.count() == 0


def test_popularity_is_skewed() -> None:
    demo_seed(users=120, tracks=1000, edges=8000, seed=3)

    per_track = Counter(TasteEdge.objects.filter(kind="track").values_list("track_id", flat=True))
    counts = [per_track.get(pk, 0) for pk in Track.objects.values_list("pk", flat=True)]
    top, median = max(counts), statistics.median(counts)
    assert top >= 20 * max(median, 1), (top, median)
    # Most tracks are rare: at least half have at most the median number of edges.
    assert sum(1 for count in counts if count <= 2) >= len(counts) // 2


def test_users_share_taste_within_clusters() -> None:
    demo_seed(users=120, tracks=1000, edges=8000, seed=3)
    demo = User.objects.get(username=DEMO_USERNAME)
    liked = set(
        TasteEdge.objects.filter(user=demo, kind="artist").values_list("artist_id", flat=True)
    )

    overlap = Counter(
        TasteEdge.objects.filter(kind="artist", artist_id__in=liked)
        .exclude(user=demo)
        .values_list("user_id", flat=True)
    )

    # The demo account has buds: several users share many of its artists.
    assert len(liked) >= 20
    assert sum(1 for shared in overlap.values() if shared >= 10) >= 5


def test_edges_are_capped_at_what_fits() -> None:
    # 3 genres, 3 artists, 3 albums, 10 tracks: per user 19 likes + 19 played + 19 top.
    plan = demo_plan(users=2, tracks=10, edges=1000, seed=1)
    assert plan.edges == 114

    result = demo_seed(users=2, tracks=10, edges=1000, seed=1)

    assert result.counts["edges"] == 114
    assert TasteEdge.objects.filter(relation="like", kind="track").count() == 20


def test_writes_in_batches_not_per_row() -> None:
    def statements(*, users: int, tracks: int, edges: int) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            demo_seed(users=users, tracks=tracks, edges=edges, seed=5)
        inserts = sum(1 for q in queries if q["sql"].startswith("INSERT"))
        return inserts, len(queries) - inserts

    _, small_other = statements(users=20, tracks=100, edges=600)
    demo_reset()
    large_inserts, large_other = statements(users=80, tracks=400, edges=2400)

    # Reads and bookkeeping do not grow with the data; inserts carry many rows each
    # (SQLite caps the parameters per statement, PostgreSQL takes 5,000 rows at once).
    assert large_other == small_other
    rows = 80 + 4 + 33 + 80 + 400 + 2400  # users, genres, artists, albums, tracks, edges
    assert large_inserts * 50 <= rows


def test_demo_account_can_log_in_with_the_documented_password(client: Client) -> None:
    seed_small()

    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD) is True
    assert client.login(username=DEMO_USERNAME, password="wrong-password") is False
    # Hashed once and shared: hashing 10,000 passwords with Argon2 would take minutes.
    assert User.objects.values("password").distinct().count() == 1
    other = User.objects.exclude(username=DEMO_USERNAME).order_by("pk").first()
    assert other is not None
    assert Client().login(username=other.username, password=DEMO_PASSWORD) is True


def test_demo_user_finds_buds_whose_shared_items_explain_the_score() -> None:
    seed_small()
    demo = User.objects.get(username=DEMO_USERNAME)

    page = async_to_sync(buds_for_user)(
        user_id=demo.pk, kind=None, source=BudSource.ALL, limit=10, cursor=None
    )

    # The bulk load recomputed the statistics the scoring divides by.
    library = UserLibrary.objects.get(user=demo)
    assert library.like_track == (
        TasteEdge.objects.filter(user=demo, relation="like", kind="track").count()
    )
    assert len(page.buds) == 10
    scores = [bud.score for bud in page.buds]
    assert scores == sorted(scores, reverse=True)
    for bud in page.buds:
        assert bud.username != DEMO_USERNAME
        assert bud.shared_count >= len(bud.top_shared) >= 1
        weights = [shared.weight for shared in bud.top_shared]
        assert weights == sorted(weights, reverse=True)
        # The shared items' weights add up to the score; the five heaviest are listed.
        assert sum(weights) <= bud.score + 1e-9
        if bud.shared_count == len(bud.top_shared):
            assert sum(weights) == pytest.approx(bud.score, abs=1e-9)
