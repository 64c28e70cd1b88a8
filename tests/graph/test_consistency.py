"""The Neo4j backend under concurrent writes: a read never fails while edges are being
projected, and a user's own writes are never answered from a graph that lacks them."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper

from graph import queries
from graph.backends import neo4j as neo4j_backend
from graph.backends import sql as sql_backend
from graph.connection import async_driver_close
from graph.projection import projection_apply, projection_wait, user_projection_pending
from graph.types import BudPage, BudSource
from musicbud.models import ItemKind, Relation, Track, User
from musicbud.selectors.buds import buds_page_get
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tests.factories import TrackFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

READS = 60
TRACK = ItemKind.TRACK


def _pair_sharing(tracks: int) -> tuple[User, list[Track]]:
    """Alice and Bob; Bob likes every song, and everything is projected."""
    alice, bob = UserFactory.create(username="alice"), UserFactory.create(username="bob")
    songs = TrackFactory.create_batch(tracks)
    for song in songs:
        taste_edge_set(user=bob, kind=ItemKind.TRACK, item=song, relation=Relation.LIKE)
    taste_edge_set(user=alice, kind=ItemKind.TRACK, item=songs[0], relation=Relation.LIKE)
    projection_wait()
    projection_apply()
    return alice, songs


def test_bud_reads_never_fail_while_the_users_edges_are_projected(
    neo4j_graph: str, settings: SettingsWrapper
) -> None:
    settings.GRAPH_BACKEND = "neo4j"
    settings.GRAPH_FALLBACK_TO_SQL = False  # a failed read must fail here, not fall back
    alice, songs = _pair_sharing(12)
    stop = threading.Event()

    def toggle_likes() -> None:
        # Alice likes and unlikes Bob's songs; each change is projected in the background.
        try:
            while not stop.is_set():
                for song in songs[1:]:
                    taste_edge_set(user=alice, kind=TRACK, item=song, relation=Relation.LIKE)
                for song in songs[1:]:
                    taste_edge_remove(user=alice, kind=TRACK, item=song, relation=Relation.LIKE)
        finally:
            connection.close()

    async def read() -> list[BaseException | int]:
        outcomes: list[BaseException | int] = []
        try:
            for _ in range(READS):
                try:
                    page = await queries.buds_for_user(
                        user_id=alice.pk,
                        kind="track",
                        source=BudSource.LIKES,
                        limit=10,
                        cursor=None,
                    )
                except Exception as exc:  # noqa: BLE001 - counted below
                    outcomes.append(exc)
                    continue
                [bud] = page.buds
                assert bud.username == "bob"
                outcomes.append(bud.shared_count)
        finally:
            await async_driver_close()
        return outcomes

    writer = threading.Thread(target=toggle_likes)
    writer.start()
    try:
        outcomes = asyncio.run(read())
    finally:
        stop.set()
        writer.join()
        projection_wait()

    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    # The reads saw the likes come and go (the race really ran).
    assert len(set(outcomes)) > 1
    assert all(1 <= int(count) <= 12 for count in outcomes)  # type: ignore[arg-type]


def _page_summary(page: BudPage) -> list[tuple[str, int, float]]:
    return [(b.username, b.shared_count, b.score) for b in page.buds]


async def _my_buds(user: User) -> BudPage:
    return await buds_page_get(
        user_id=user.pk, kind="track", source=BudSource.LIKES, limit=10, cursor=None
    )


async def _sql_buds(user: User) -> BudPage:
    return await sql_backend.buds_for_user(
        user_id=user.pk, kind="track", source=BudSource.LIKES, limit=10, cursor=None
    )


async def test_a_page_read_before_the_projection_caught_up_is_fresh_and_stays_so(
    neo4j_graph: str, settings: SettingsWrapper
) -> None:
    settings.GRAPH_BACKEND = "neo4j"
    alice, songs = await sync_to_async(_pair_sharing)(12)
    before = await _my_buds(alice)
    assert _page_summary(before)[0][:2] == ("bob", 1)
    # Alice likes ten more of Bob's songs; the projector has not applied them yet.
    settings.NEO4J_URL = None
    for song in songs[1:11]:
        await sync_to_async(taste_edge_set)(
            user=alice, kind=ItemKind.TRACK, item=song, relation=Relation.LIKE
        )
    settings.NEO4J_URL = neo4j_graph
    assert await user_projection_pending(user_id=alice.pk)

    during = await _my_buds(alice)
    await sync_to_async(projection_apply)()
    assert not await user_projection_pending(user_id=alice.pk)
    after = await _my_buds(alice)  # the page cached while the projection lagged
    uncached = await neo4j_backend.buds_for_user(
        user_id=alice.pk, kind="track", source=BudSource.LIKES, limit=10, cursor=None
    )

    assert _page_summary(during)[0][:2] == ("bob", 11)
    assert _page_summary(during) == _page_summary(await _sql_buds(alice))
    assert after is during or _page_summary(after) == _page_summary(during)
    assert _page_summary(uncached) == _page_summary(during)


async def test_pages_read_right_after_own_writes_match_sql(
    neo4j_graph: str, settings: SettingsWrapper
) -> None:
    # The projector applies each like in the background, racing the reads that follow it.
    settings.GRAPH_BACKEND = "neo4j"
    alice, songs = await sync_to_async(_pair_sharing)(12)
    wrong = 0
    for song in songs[1:]:
        await sync_to_async(taste_edge_set)(
            user=alice, kind=ItemKind.TRACK, item=song, relation=Relation.LIKE
        )
        cached = await _my_buds(alice)
        if _page_summary(cached) != _page_summary(await _sql_buds(alice)):
            wrong += 1
    await sync_to_async(projection_wait)()

    assert wrong == 0
    assert _page_summary(await _my_buds(alice))[0][:2] == ("bob", 12)
