"""Liking and unliking, and my likes / top items / plays lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.models import Relation, TasteEdge, User
from musicbud.services.taste import taste_edge_set
from tests.factories import ArtistFactory, GenreFactory, TrackFactory, UserFactory

pytestmark = pytest.mark.django_db


def _like_url(kind: str, item_id: object) -> str:
    return reverse("api-v1:my-like", args=[kind, item_id])


def test_put_like_is_created_then_idempotent(api_client: Client, user: User) -> None:
    track = TrackFactory.create(name="Teardrop")

    first = api_client.put(_like_url("tracks", track.public_id))
    again = api_client.put(_like_url("tracks", track.public_id))

    assert first.status_code == HTTPStatus.CREATED
    assert again.status_code == HTTPStatus.OK
    assert first.json()["item"] == {
        "id": str(track.public_id),
        "kind": "track",
        "name": "Teardrop",
        "external_ids": {},
        "images": [],
        "artists": [],
        "album": None,
    }
    assert first.json()["source"] == "manual"
    assert again.json()["liked_at"] == first.json()["liked_at"]
    assert list(TasteEdge.objects.values_list("user_id", "relation", "kind", "track_id")) == [
        (user.pk, "like", "track", track.pk)
    ]


def test_put_like_of_unknown_item_is_404_and_writes_nothing(api_client: Client) -> None:
    artist = ArtistFactory.create()

    unknown = api_client.put(_like_url("artists", uuid.uuid4()))
    wrong_kind = api_client.put(_like_url("tracks", artist.public_id))

    assert unknown.status_code == HTTPStatus.NOT_FOUND
    assert unknown.json()["code"] == "item_not_found"
    assert wrong_kind.status_code == HTTPStatus.NOT_FOUND
    assert TasteEdge.objects.count() == 0


@pytest.mark.parametrize(("kind", "item_id"), [("songs", uuid.uuid4()), ("tracks", "not-a-uuid")])
def test_put_like_with_invalid_kind_or_id_is_422(
    api_client: Client, kind: str, item_id: object
) -> None:
    response = api_client.put(f"/api/v1/me/likes/{kind}/{item_id}")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert TasteEdge.objects.count() == 0


def test_delete_like_removes_only_that_like(api_client: Client, user: User) -> None:
    genre, kept = GenreFactory.create(), GenreFactory.create()
    other = UserFactory.create()
    taste_edge_set(user=user, kind="genre", item=genre, relation=Relation.LIKE)
    taste_edge_set(user=user, kind="genre", item=kept, relation=Relation.LIKE)
    taste_edge_set(user=other, kind="genre", item=genre, relation=Relation.LIKE)

    response = api_client.delete(_like_url("genres", genre.public_id))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert set(TasteEdge.objects.values_list("user_id", "genre_id")) == {
        (user.pk, kept.pk),
        (other.pk, genre.pk),
    }


def test_delete_like_that_does_not_exist_is_204_and_unknown_item_404(api_client: Client) -> None:
    genre = GenreFactory.create()

    not_liked = api_client.delete(_like_url("genres", genre.public_id))
    unknown = api_client.delete(_like_url("genres", uuid.uuid4()))

    assert not_liked.status_code == HTTPStatus.NO_CONTENT
    assert unknown.status_code == HTTPStatus.NOT_FOUND
    assert unknown.json()["code"] == "item_not_found"


def test_like_requires_authentication(client: Client) -> None:
    track = TrackFactory.create()

    response = client.put(_like_url("tracks", track.public_id))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert TasteEdge.objects.count() == 0


def test_my_likes_lists_newest_first_only_mine_and_that_kind_in_one_query(
    api_client: Client, user: User, auth_queries: int, django_assert_num_queries
) -> None:
    tracks = [TrackFactory.create(name=f"T{i}") for i in range(3)]
    for track in tracks:
        taste_edge_set(user=user, kind="track", item=track, relation=Relation.LIKE)
    taste_edge_set(user=user, kind="artist", item=ArtistFactory.create(), relation=Relation.LIKE)
    taste_edge_set(
        user=UserFactory.create(),
        kind="track",
        item=TrackFactory.create(name="Theirs"),
        relation=Relation.LIKE,
    )
    url = reverse("api-v1:my-likes", args=["tracks"])

    # The edges with their tracks and albums (joins), the tracks' artists (one prefetch), and
    # on a page before the last, the count.
    with django_assert_num_queries(auth_queries + 3):
        first = api_client.get(url, {"limit": "2"})
    with django_assert_num_queries(auth_queries + 2):
        second = api_client.get(first.json()["next"])

    assert [e["item"]["name"] for e in first.json()["items"]] == ["T2", "T1"]
    assert [e["item"]["name"] for e in second.json()["items"]] == ["T0"]
    assert second.json()["next"] is None
    assert (first.json()["count"], second.json()["count"]) == (3, 3)
    assert (first.json()["previous"], second.json()["previous"]) == (None, f"{url}?limit=2")
    assert set(first.json()["items"][0]) == {"item", "source", "liked_at"}


def test_my_top_is_ordered_by_rank(
    api_client: Client, user: User, auth_queries: int, django_assert_num_queries
) -> None:
    for rank, name in [(2, "Massive Attack"), (1, "Portishead"), (3, "Tricky")]:
        taste_edge_set(
            user=user,
            kind="artist",
            item=ArtistFactory.create(name=name),
            relation=Relation.TOP,
            rank=rank,
        )

    with django_assert_num_queries(auth_queries + 1):
        response = api_client.get(reverse("api-v1:my-top", args=["artists"]))

    assert [(e["rank"], e["item"]["name"]) for e in response.json()["items"]] == [
        (1, "Portishead"),
        (2, "Massive Attack"),
        (3, "Tricky"),
    ]


def test_my_played_tracks_most_played_first(
    api_client: Client, user: User, auth_queries: int, django_assert_num_queries
) -> None:
    late = datetime(2026, 3, 1, tzinfo=UTC)
    early = datetime(2026, 1, 1, tzinfo=UTC)
    for name, count, at in [("A", 3, early), ("B", 9, None), ("C", 3, late)]:
        taste_edge_set(
            user=user,
            kind="track",
            item=TrackFactory.create(name=name),
            relation=Relation.PLAYED,
            play_count=count,
            last_played_at=at,
        )

    # The edges with their tracks and albums (joins), then the tracks' artists (prefetch).
    with django_assert_num_queries(auth_queries + 2):
        response = api_client.get(reverse("api-v1:my-played-tracks"))

    assert [
        (e["item"]["name"], e["play_count"], e["last_played_at"]) for e in response.json()["items"]
    ] == [("B", 9, None), ("C", 3, "2026-03-01T00:00:00Z"), ("A", 3, "2026-01-01T00:00:00Z")]


@pytest.mark.parametrize("path", ["/api/v1/me/likes/tunes", "/api/v1/me/top/user"])
def test_lists_reject_unknown_kinds(api_client: Client, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["details"][0]["field"] == "path.kind"
