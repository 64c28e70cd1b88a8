"""Buds through the API: my buds (cached, hop-free when warm), common items, an item's buds,
user search privacy, recommendations."""

from __future__ import annotations

import uuid
from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from graph.types import BudSource
from musicbud.cache_keys import taste_caches_invalidate
from musicbud.models import Relation
from musicbud.selectors.buds import buds_page_get
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory
from tests.fixtures.taste import BudWorld

pytestmark = pytest.mark.django_db

BUD_KEYS = {"user", "score", "shared_count", "top_shared", "taste_hidden"}
BUD_USER_KEYS = {"id", "username", "display_name"}


def _usernames(response) -> list[str]:
    return [bud["user"]["username"] for bud in response.json()["items"]]


def test_my_buds_are_ranked_and_their_shared_items_explain_the_score(
    api_client: Client, bud_world: BudWorld
) -> None:
    response = api_client.get(reverse("api-v1:my-buds"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    # dan shares nothing, eve is inactive, and I am not my own bud.
    assert _usernames(response) == ["ben", "ana", "cat"]
    assert body["next"] is None
    shared = {
        bud["user"]["username"]: sorted(s["item"]["name"] for s in bud["top_shared"])
        for bud in body["items"]
    }
    assert shared == {"ben": ["band", "hit"], "ana": ["rare1", "rare2"], "cat": ["hit"]}
    for bud in body["items"]:
        assert bud["taste_hidden"] is False
        assert bud["shared_count"] == len(bud["top_shared"])
        assert bud["score"] == pytest.approx(sum(s["weight"] for s in bud["top_shared"]), abs=1e-6)
    # Two rare tracks say more than the one song everybody likes.
    scores = {bud["user"]["username"]: bud["score"] for bud in body["items"]}
    assert scores["ana"] > scores["cat"]
    ben = body["items"][0]
    assert ben["user"] == {
        "id": str(bud_world.users["ben"].public_id),
        "username": "ben",
        "display_name": "Ben",
    }
    assert ben["top_shared"][0]["item"] == {
        "id": str(bud_world.artists["band"].public_id),
        "kind": "artist",
        "name": "band",
        "external_ids": {},
        "images": [],
        "artists": [],
        "album": None,
    }
    assert (body["count"], body["previous"]) == (3, None)


def test_bud_results_expose_no_private_fields(api_client: Client, bud_world: BudWorld) -> None:
    body = api_client.get(reverse("api-v1:my-buds")).json()

    for bud in body["items"]:
        assert set(bud) == BUD_KEYS
        assert set(bud["user"]) == BUD_USER_KEYS
        assert all(set(s) == {"item", "weight"} for s in bud["top_shared"])
    assert "@" not in str(body)


def test_my_buds_filtered_by_kind_and_paginated(api_client: Client, bud_world: BudWorld) -> None:
    url = reverse("api-v1:my-buds")

    artists = api_client.get(url, {"kind": "artists"})
    first = api_client.get(url, {"kind": "tracks", "limit": "2"})
    second = api_client.get(first.json()["next"])

    assert _usernames(artists) == ["ben"]
    # On tracks alone ben and cat tie (both like only the hit): the public id decides.
    tied = sorted(["ben", "cat"], key=lambda name: bud_world.users[name].public_id)
    assert _usernames(first) + _usernames(second) == ["ana", *tied]
    assert len(first.json()["items"]) == 2
    assert first.json()["next"].startswith(f"{url}?")
    assert "kind=tracks" in first.json()["next"]
    assert second.json()["next"] is None


def test_one_cached_page_links_each_request_to_its_own_next_page(
    api_client: Client, bud_world: BudWorld
) -> None:
    url = reverse("api-v1:my-buds")

    cold = api_client.get(f"{url}?kind=tracks&limit=2")
    warm = api_client.get(f"{url}?kind=tracks&limit=2")
    # The same cached page (same filters), asked for with the parameters in another order.
    reordered = api_client.get(f"{url}?limit=2&kind=tracks")

    assert warm.content == cold.content
    assert reordered.json()["items"] == cold.json()["items"]
    cursor = cold.json()["next"].rpartition("cursor=")[2]
    assert cold.json()["next"] == f"{url}?kind=tracks&limit=2&cursor={cursor}"
    assert reordered.json()["next"] == f"{url}?limit=2&kind=tracks&cursor={cursor}"


def test_my_buds_by_source(api_client: Client, bud_world: BudWorld) -> None:
    url = reverse("api-v1:my-buds")

    assert _usernames(api_client.get(url, {"source": "likes"})) == ["ben", "ana", "cat"]
    assert _usernames(api_client.get(url, {"source": "top"})) == []
    assert _usernames(api_client.get(url, {"source": "played"})) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "track"}, "query.kind"),
        ({"source": "friends"}, "query.source"),
        ({"limit": "101"}, "query.limit"),
        ({"cursor": "has space"}, "query.cursor"),
    ],
)
def test_my_buds_rejects_invalid_parameters(
    api_client: Client, query: dict[str, str], field: str
) -> None:
    response = api_client.get(reverse("api-v1:my-buds"), query)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert [d["field"] for d in response.json()["details"]] == [field]


def test_my_buds_query_count_does_not_grow_with_the_page(
    api_client: Client, bud_world: BudWorld, auth_queries: int, django_assert_num_queries
) -> None:
    url = reverse("api-v1:my-buds")
    # The ranking's count is cached apart from its pages (no limit in its key): warm it first.
    api_client.get(url, {"limit": "2"})
    with CaptureQueriesContext(connection) as small:
        assert len(api_client.get(url, {"limit": "1"}).json()["items"]) == 1
    with CaptureQueriesContext(connection) as large:
        assert len(api_client.get(url, {"limit": "3"}).json()["items"]) == 3

    assert len(small) == len(large)
    # Warm: the page comes from the cache, only the auth layer queries.
    with django_assert_num_queries(auth_queries):
        api_client.get(url, {"limit": "3"})


def test_warm_buds_read_makes_no_query_and_no_thread_hop(
    bud_world: BudWorld, django_assert_num_queries, thread_sensitive_hops: list[str]
) -> None:
    def read():
        return async_to_sync(buds_page_get)(
            user_id=bud_world.me.pk, kind=None, source=BudSource.ALL, limit=20, cursor=None
        )

    cold = read()
    # Cold: who I may not find (one query), the ranking, whose taste on the page is hidden
    # from me, then the shared items' cards (one hop for every kind).
    assert thread_sensitive_hops == [
        "hidden_user_ids_read",
        "_buds_for_user",
        "taste_hidden_among_read",
        "_cards_load",
    ]
    thread_sensitive_hops.clear()

    with django_assert_num_queries(0):
        warm = read()

    assert thread_sensitive_hops == []
    assert warm == cold


def test_my_taste_change_refreshes_my_cached_buds(
    api_client: Client, bud_world: BudWorld, django_capture_on_commit_callbacks
) -> None:
    url = reverse("api-v1:my-buds")
    assert "dan" not in _usernames(api_client.get(url))  # cached now

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.put(
            reverse("api-v1:my-like", args=["tracks", bud_world.tracks["deep"].public_id])
        )
    assert response.status_code == HTTPStatus.CREATED

    assert "dan" in _usernames(api_client.get(url))


def test_a_rolled_back_taste_write_keeps_the_cache(
    api_client: Client, bud_world: BudWorld, django_capture_on_commit_callbacks
) -> None:
    url = reverse("api-v1:my-buds")
    before = api_client.get(url).json()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        taste_edge_set(
            user=bud_world.me, kind="track", item=bud_world.tracks["deep"], relation=Relation.LIKE
        )

    # The invalidation waits for the commit, which (here) never happens.
    assert [
        cb.keywords for cb in callbacks if getattr(cb, "func", None) is taste_caches_invalidate
    ] == [{"user_id": bud_world.me.pk}]
    assert api_client.get(url).json() == before


def test_common_items_with_a_user(api_client: Client, bud_world: BudWorld) -> None:
    url = reverse("api-v1:common-items", args=["BEN"])

    everything = api_client.get(url)
    tracks = api_client.get(url, {"kind": "tracks"})

    assert everything.status_code == HTTPStatus.OK
    assert [s["item"]["name"] for s in everything.json()["items"]] == ["band", "hit"]
    assert [s["item"]["name"] for s in tracks.json()["items"]] == ["hit"]
    assert set(everything.json()["items"][0]) == {"item", "weight"}


def test_common_items_errors(api_client: Client, bud_world: BudWorld) -> None:
    unknown = api_client.get(reverse("api-v1:common-items", args=["nobody"]))
    inactive = api_client.get(reverse("api-v1:common-items", args=["eve"]))
    myself = api_client.get(reverse("api-v1:common-items", args=[bud_world.me.username]))
    bad_kind = api_client.get(reverse("api-v1:common-items", args=["ben"]), {"kind": "songs"})

    assert unknown.status_code == inactive.status_code == HTTPStatus.NOT_FOUND
    assert unknown.json()["code"] == "user_not_found"
    assert myself.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert myself.json()["code"] == "same_user"
    assert bad_kind.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_buds_of_an_item(api_client: Client, bud_world: BudWorld) -> None:
    url = reverse("api-v1:item-buds", args=["tracks", bud_world.tracks["rare1"].public_id])

    response = api_client.get(url)

    assert response.status_code == HTTPStatus.OK
    # eve is inactive; everyone listed has rare1 as their one shared item.
    assert sorted(_usernames(response)) == ["ana", bud_world.me.username]
    for bud in response.json()["items"]:
        assert set(bud) == BUD_KEYS
        assert [s["item"]["name"] for s in bud["top_shared"]] == ["rare1"]


def test_buds_of_an_item_query_count_does_not_grow_with_the_page(
    api_client: Client, bud_world: BudWorld
) -> None:
    url = reverse("api-v1:item-buds", args=["tracks", bud_world.tracks["hit"].public_id])
    with CaptureQueriesContext(connection) as small:
        assert len(api_client.get(url, {"limit": "1"}).json()["items"]) == 1
    with CaptureQueriesContext(connection) as large:
        assert len(api_client.get(url, {"limit": "3"}).json()["items"]) == 3

    assert len(small) == len(large)


def test_buds_of_an_unknown_item_is_404(api_client: Client, bud_world: BudWorld) -> None:
    unknown = api_client.get(reverse("api-v1:item-buds", args=["tracks", uuid.uuid4()]))
    wrong_kind = api_client.get(
        reverse("api-v1:item-buds", args=["albums", bud_world.tracks["hit"].public_id])
    )

    assert unknown.status_code == wrong_kind.status_code == HTTPStatus.NOT_FOUND


def test_recommendations_are_what_my_buds_have_and_i_do_not(
    api_client: Client, bud_world: BudWorld
) -> None:
    tracks = api_client.get(reverse("api-v1:recommendations"), {"kind": "tracks"})
    artists = api_client.get(reverse("api-v1:recommendations"), {"kind": "artists"})
    missing_kind = api_client.get(reverse("api-v1:recommendations"))

    assert [(r["item"]["name"], r["liked_by"]) for r in tracks.json()["items"]] == [("deep", 1)]
    assert [(r["item"]["name"], r["liked_by"]) for r in artists.json()["items"]] == [("other", 1)]
    assert set(tracks.json()["items"][0]) == {"item", "score", "liked_by"}
    # Without a kind: every kind, best first.
    assert missing_kind.status_code == HTTPStatus.OK
    assert [(r["item"]["kind"], r["item"]["name"]) for r in missing_kind.json()["items"]] == [
        ("artist", "other"),
        ("track", "deep"),
    ]
    assert [r["score"] for r in missing_kind.json()["items"]] == [
        artists.json()["items"][0]["score"],
        tracks.json()["items"][0]["score"],
    ]
    assert missing_kind.json()["count"] == 2


def test_user_search_exposes_no_private_fields(api_client: Client, bud_world: BudWorld) -> None:
    response = api_client.get(reverse("api-v1:user-search"), {"q": "a"})

    # Active users with an "a" in their username or display name, username prefix first.
    assert [u["username"] for u in response.json()["items"]] == ["ana", "cat", "dan"]
    for found in response.json()["items"]:
        assert set(found) == {"id", "username", "display_name", "avatar_url"}


def test_buds_endpoints_require_authentication(client: Client) -> None:
    item = TrackFactory.create()
    UserFactory.create(username="someone")
    urls = [
        reverse("api-v1:my-buds"),
        reverse("api-v1:common-items", args=["someone"]),
        reverse("api-v1:item-buds", args=["tracks", item.public_id]),
        reverse("api-v1:user-search") + "?q=some",
        reverse("api-v1:recommendations") + "?kind=tracks",
    ]

    assert [client.get(url).status_code for url in urls] == [HTTPStatus.UNAUTHORIZED] * len(urls)
