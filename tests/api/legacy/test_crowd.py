"""Bud lists longer than one page of the graph (100) and than the old cap (1,000): the page
envelope's ``count``, ``next`` and ``previous`` are exact, every bud is reachable, and page 1
costs one graph page and the count, not a walk of the ranking."""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from graph.stats import taste_stats_refresh
from musicbud.models import ItemKind, Relation, TasteEdge, Track, User
from tests.api.legacy.conftest import LegacyWorld
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.django_db

CROWD = 1050  # more than the old cap of 1,000 buds
NICHE_TRACKS = 25  # each liked by me and 42 of the crowd: never a stop item
# Every statement that scores bud candidates (a page of the ranking or its count) has it.
SCORING = "GROUP BY h.user_id"


@dataclass(frozen=True)
class Crowd:
    me: User
    buds: list[str]  # the crowd's uids, in the ranking's order (all tie: by public id)
    anthem: Track  # liked by me and by the whole crowd


@pytest.fixture
def crowd(legacy: LegacyWorld) -> Crowd:
    """``CROWD`` people, each liking one of my niche tracks and the anthem, written in bulk
    (the statistics recomputed after, as after any bulk load)."""
    me = legacy.world.me
    TasteEdge.objects.filter(user=me).delete()
    niche = Track.objects.bulk_create(Track(name=f"niche {n}") for n in range(NICHE_TRACKS))
    anthem = Track.objects.create(name="anthem")
    people = User.objects.bulk_create(
        User(username=f"fan{n}", email=f"fan{n}@example.org", password="!") for n in range(CROWD)
    )
    edges = [TasteEdge(user=me, relation=Relation.LIKE, kind=ItemKind.TRACK, track=anthem)]
    edges += [
        TasteEdge(user=me, relation=Relation.LIKE, kind=ItemKind.TRACK, track=track)
        for track in niche
    ]
    for n, person in enumerate(people):
        for track in (niche[n % NICHE_TRACKS], anthem):
            edges.append(
                TasteEdge(user=person, relation=Relation.LIKE, kind=ItemKind.TRACK, track=track)
            )
    TasteEdge.objects.bulk_create(edges)
    taste_stats_refresh()
    # The world's other people (ana, ben, ...) share nothing with me any more.
    buds = sorted(person.public_id for person in people)
    return Crowd(me=me, buds=[uid.hex for uid in buds], anthem=anthem)


def _uids(body: dict[str, Any]) -> list[str]:
    return [row["bud"]["uid"] for row in body["data"]]


# The score of every bud: the niche track shared (1 over its 42 other holders), my 26 liked
# tracks against their 2 (the anthem is a stop item: it weighs nothing).
CROWD_SCORE = round(1 / 42 / math.sqrt(NICHE_TRACKS + 1) / math.sqrt(2), 9)
# How much the anthem means to each of its holders: one like in a library of 2 tracks.
ANTHEM_SCORE = round(1 / math.sqrt(2) / 2.5, 9)


def test_bud_pages_count_and_reach_every_bud(legacy: LegacyWorld, crowd: Crowd) -> None:
    first = legacy.call("GET", "/v1/bud/liked/tracks/").json()
    past_the_old_cap = legacy.call(
        "GET", "/v1/bud/liked/tracks/", {"page": 11, "page_size": 100}
    ).json()
    last = legacy.call("POST", "/bud/liked/tracks?page=105").json()
    beyond = legacy.call("GET", "/bud/liked/tracks", {"page": 12, "page_size": 100})

    assert first["count"] == CROWD
    assert first["next"] == "http://testserver/v1/bud/liked/tracks/?page=2"
    assert first["previous"] is None
    assert _uids(first) == crowd.buds[:10]
    assert {row["similarity_score"] for row in first["data"]} == {CROWD_SCORE}
    assert past_the_old_cap["count"] == CROWD
    assert _uids(past_the_old_cap) == crowd.buds[1000:]
    assert past_the_old_cap["next"] is None
    assert past_the_old_cap["previous"] == (
        "http://testserver/v1/bud/liked/tracks/?page=10&page_size=100"
    )
    assert (last["count"], last["next"]) == (CROWD, None)
    assert last["previous"] == "http://testserver/bud/liked/tracks?page=104"
    assert _uids(last) == crowd.buds[1040:]
    assert_envelope(beyond, HTTPStatus.NOT_FOUND, "invalid_page", extra={"success": False})


def test_every_bud_is_on_exactly_one_page(legacy: LegacyWorld, crowd: Crowd) -> None:
    pages = [
        legacy.call("GET", "/bud/liked/aio", {"page": n, "page_size": 100}).json()
        for n in range(1, 12)
    ]

    assert {page["count"] for page in pages} == {CROWD}
    assert [uid for page in pages for uid in _uids(page)] == crowd.buds
    assert [page["next"] is None for page in pages] == [False] * 10 + [True]


def _scorings(queries: CaptureQueriesContext) -> int:
    return sum(SCORING in query["sql"] for query in queries.captured_queries)


def test_page_one_scores_one_graph_page_and_the_count(legacy: LegacyWorld, crowd: Crowd) -> None:
    with CaptureQueriesContext(connection) as cold:
        first = legacy.call("GET", "/bud/liked/tracks")
    with CaptureQueriesContext(connection) as warm:
        again = legacy.call("GET", "/bud/liked/tracks")
    with CaptureQueriesContext(connection) as deep:
        legacy.call("GET", "/bud/liked/tracks", {"page": 31, "page_size": 30})
    with CaptureQueriesContext(connection) as past:
        beyond = legacy.call("GET", "/bud/liked/tracks", {"page": 36, "page_size": 30})

    assert first.json() == again.json()
    assert _scorings(cold) == 2  # the first graph page (100 buds) and the count
    assert _scorings(warm) == 0  # both cached
    assert _scorings(deep) == 9  # buds 900 to 930: graph pages 2 to 10 (the count is cached)
    # Buds 1050 on: refused from the (cached) count, no page walked.
    assert_envelope(beyond, HTTPStatus.NOT_FOUND, "invalid_page", extra={"success": False})
    assert _scorings(past) == 0


def test_a_ranking_of_one_page_is_not_counted_apart(legacy: LegacyWorld) -> None:
    with CaptureQueriesContext(connection) as queries:
        body = legacy.call("GET", "/bud/liked/tracks").json()

    assert body["count"] == 3
    assert _scorings(queries) == 1  # the one graph page says it is the last


def test_an_items_buds_count_and_reach_everyone(legacy: LegacyWorld, crowd: Crowd) -> None:
    anthem = {"track_id": crowd.anthem.public_id.hex}

    first = legacy.call("POST", "/bud/track", anthem).json()
    last = legacy.call("POST", "/bud/track?page=11&page_size=100", anthem).json()

    # Everyone holding it but me.
    assert first["count"] == CROWD
    assert first["next"] == "http://testserver/bud/track?page=2"
    assert _uids(first) == crowd.buds[:10]
    assert {row["similarity_score"] for row in first["data"]} == {ANTHEM_SCORE}
    assert last["count"] == CROWD
    assert (last["next"], len(last["data"])) == (None, 50)
    assert _uids(last) == crowd.buds[1000:]
