"""Taste writes keep the scoring statistics exact, in the write's own transaction."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from graph import queries
from graph.models import (
    CellPopulation,
    ItemPopularity,
    ProjectionOutbox,
    UserLibrary,
    library_column,
)
from graph.stats import taste_stats_refresh
from graph.types import BudPage, BudSource
from musicbud.models import ItemKind, Relation, TasteEdge
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tests.factories import ArtistFactory, TrackFactory, UserFactory
from tests.graph.taste_world import build_world

pytestmark = pytest.mark.django_db


def stats() -> tuple[set[tuple[int, str, str, int]], set[tuple[str, str, int, int]]]:
    columns = [(r, k) for r in Relation.values for k in ItemKind.values]
    sizes = {
        (library.user_id, relation, kind, getattr(library, library_column(relation, kind)))
        for library in UserLibrary.objects.all()
        for relation, kind in columns
        if getattr(library, library_column(relation, kind))
    }
    holders = set(ItemPopularity.objects.values_list("relation", "kind", "item_id", "holders"))
    return sizes, holders


def population() -> set[tuple[str, str, int]]:
    return set(CellPopulation.objects.values_list("relation", "kind", "users"))


def test_writes_count_library_sizes_and_item_holders() -> None:
    ann, ben = UserFactory.create_batch(2)
    one, two, three = TrackFactory.create_batch(3)
    for user in (ann, ben):
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=one, relation=Relation.LIKE)
    taste_edge_set(user=ann, kind=ItemKind.TRACK, item=two, relation=Relation.LIKE)
    # Again: no new edge, no new count.
    taste_edge_set(user=ann, kind=ItemKind.TRACK, item=two, relation=Relation.LIKE)
    taste_edge_set(
        user=ann, kind=ItemKind.TRACK, item=three, relation=Relation.PLAYED, play_count=4
    )
    taste_edge_set(
        user=ann, kind=ItemKind.TRACK, item=three, relation=Relation.PLAYED, play_count=5
    )
    taste_edge_remove(user=ben, kind=ItemKind.TRACK, item=one, relation=Relation.LIKE)

    sizes, holders = stats()

    assert sizes == {(ann.pk, "like", "track", 2), (ann.pk, "played", "track", 1)}
    assert holders == {
        ("like", "track", one.pk, 1),
        ("like", "track", two.pk, 1),
        ("played", "track", three.pk, 1),
    }
    # ben's only like is gone: one user left with track likes.
    assert population() == {("like", "track", 1), ("played", "track", 1)}


def test_refresh_recomputes_the_statistics_after_bulk_inserts() -> None:
    ann, ben = UserFactory.create_batch(2)
    track, artist = TrackFactory.create(), ArtistFactory.create()
    taste_edge_set(user=ann, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    TasteEdge.objects.bulk_create(
        [
            TasteEdge(user=ben, relation=Relation.LIKE, kind=ItemKind.TRACK, track=track),
            TasteEdge(user=ben, relation=Relation.TOP, kind=ItemKind.ARTIST, artist=artist, rank=1),
        ]
    )

    taste_stats_refresh()

    sizes, holders = stats()
    assert sizes == {
        (ann.pk, "like", "track", 1),
        (ben.pk, "like", "track", 1),
        (ben.pk, "top", "artist", 1),
    }
    assert holders == {("like", "track", track.pk, 2), ("top", "artist", artist.pk, 1)}
    assert population() == {("like", "track", 2), ("top", "artist", 1)}


def test_the_refresh_command_reports_what_it_counted() -> None:
    ann = UserFactory.create()
    TasteEdge.objects.bulk_create(
        [
            TasteEdge(user=ann, relation=Relation.LIKE, kind=ItemKind.TRACK, track=track)
            for track in TrackFactory.create_batch(3)
        ]
    )
    out = io.StringIO()

    call_command("graph_refresh_stats", stdout=out)

    assert out.getvalue().strip() == "1 libraries, 1 cells, 3 items"
    assert UserLibrary.objects.get(user=ann).like_track == 3


def exact_stats() -> tuple[object, ...]:
    """Everything the scoring reads; cells counting 0 users equal cells with no row."""
    sizes, holders = stats()
    return sizes, holders, {row for row in population() if row[2] > 0}


def _delete_users_and_items() -> tuple[int, tuple[object, ...]]:
    world = build_world()
    # A user (all of Frank's cells), a liked and top artist, a genre, a liked album.
    world.users["frank"].delete()
    world.artists["band"].delete()
    world.genres["rock"].delete()
    world.albums["lp"].delete()
    return world.users["alice"].pk, exact_stats()


async def _all_buds(user_id: int) -> dict[BudSource, BudPage]:
    return {
        source: await queries.buds_for_user(
            user_id=user_id, kind=None, source=source, limit=50, cursor=None
        )
        for source in BudSource
    }


@pytest.mark.django_db(transaction=True)
async def test_deleting_users_and_items_keeps_the_statistics_exact() -> None:
    alice, after = await sync_to_async(_delete_users_and_items)()
    scores = await _all_buds(alice)

    await sync_to_async(taste_stats_refresh)()

    assert after == await sync_to_async(exact_stats)()
    assert await _all_buds(alice) == scores
    # The deletions changed the answer (the test would notice stale statistics).
    # Without "band" and "lp", Dave (top "solo" like Alice) moves ahead of Bob and Carol.
    assert [b.username for b in scores[BudSource.ALL].buds] == ["dave", "bob", "carol", "erin"]
    assert not await TasteEdge.objects.filter(user__username="frank").aexists()


def test_setting_an_edge_again_keeps_its_source_and_writes_nothing(
    django_capture_on_commit_callbacks,
) -> None:
    """A provider's write does not take over the user's own edge, and setting an edge as it
    is writes nothing."""
    user, track = UserFactory.create(), TrackFactory.create()
    taste_edge_set(user=user, kind="track", item=track, relation="like")
    outbox_before = ProjectionOutbox.objects.count()

    with django_capture_on_commit_callbacks() as callbacks:
        _, by_provider = taste_edge_set(
            user=user, kind="track", item=track, relation="like", source="spotify"
        )
        _, by_hand = taste_edge_set(user=user, kind="track", item=track, relation="like")

    assert (by_provider, by_hand) == (False, False)
    assert TasteEdge.objects.get(user=user, track=track).source == "manual"
    assert ProjectionOutbox.objects.count() == outbox_before
    assert callbacks == []  # no cache invalidation for a write that changed nothing


def test_a_write_by_hand_makes_a_providers_edge_the_users_own(
    django_capture_on_commit_callbacks,
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    taste_edge_set(user=user, kind="track", item=track, relation="like", source="spotify")
    outbox_before = ProjectionOutbox.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        edge, created = taste_edge_set(user=user, kind="track", item=track, relation="like")

    assert created is False
    assert edge.source == "manual"
    assert TasteEdge.objects.get(user=user, track=track).source == "manual"
    assert ProjectionOutbox.objects.count() == outbox_before + 1
    # The projection of the new outbox row, and the user's cached pages dropped.
    assert [callback.func.__name__ for callback in callbacks] == [
        "projection_dispatch",
        "taste_caches_invalidate",
    ]


def test_a_play_update_without_a_time_keeps_the_last_played_time() -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    played_at = datetime(2026, 1, 31, 21, 15, tzinfo=UTC)
    taste_edge_set(
        user=user,
        kind="track",
        item=track,
        relation="played",
        play_count=3,
        last_played_at=played_at,
    )

    taste_edge_set(user=user, kind="track", item=track, relation="played", play_count=5)

    edge = TasteEdge.objects.get(user=user, track=track, relation="played")
    assert (edge.play_count, edge.last_played_at) == (5, played_at)
