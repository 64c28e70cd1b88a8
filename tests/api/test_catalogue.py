"""Catalogue search (prefix first, paginated) and item detail."""

from __future__ import annotations

import uuid
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from api.pagination import MAX_PAGE_SIZE
from tests.factories import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def test_search_puts_prefix_matches_first_case_insensitively(api_client: Client) -> None:
    for name in ["Paranoid Android", "Karma Police", "The Android Song", "android dreams", "Zed"]:
        TrackFactory.create(name=name)

    response = api_client.get(reverse("api-v1:catalogue-search", args=["tracks"]), {"q": "ANDROID"})

    assert response.status_code == HTTPStatus.OK
    assert _names(response) == ["android dreams", "Paranoid Android", "The Android Song"]
    assert response.json()["next"] is None


def test_search_item_shape(api_client: Client) -> None:
    artist = ArtistFactory.create(name="Björk", spotify_id="7w29UYBi0qsHi5RTcv3lmA")

    response = api_client.get(reverse("api-v1:catalogue-search", args=["artists"]))

    assert response.json() == {
        "items": [
            {
                "id": str(artist.public_id),
                "kind": "artist",
                "name": "Björk",
                "external_ids": {"spotify": "7w29UYBi0qsHi5RTcv3lmA"},
                "images": [],
                "artists": [],
                "album": None,
            }
        ],
        "count": 1,
        "next": None,
        "previous": None,
    }


def test_search_pages_follow_next_links_with_one_query_each(
    api_client: Client, auth_queries: int, django_assert_num_queries
) -> None:
    for i in range(5):
        GenreFactory.create(name=f"Rock {i}")
    url = reverse("api-v1:catalogue-search", args=["genres"])

    pages = []
    next_url: str | None = f"{url}?q=rock&limit=2"
    # The rows, and on a page before the last, the count (the last page knows it).
    for queries in [2, 2, 1]:
        assert next_url is not None
        with django_assert_num_queries(auth_queries + queries):
            response = api_client.get(next_url)
        pages.append(_names(response))
        assert response.json()["count"] == 5
        next_url = response.json()["next"]

    assert next_url is None
    assert pages == [["Rock 0", "Rock 1"], ["Rock 2", "Rock 3"], ["Rock 4"]]


def test_next_link_is_the_full_path_with_the_same_filters(api_client: Client) -> None:
    for i in range(3):
        AlbumFactory.create(name=f"Blue {i}")
    url = reverse("api-v1:catalogue-search", args=["albums"])

    response = api_client.get(url, {"q": "blue", "limit": "2"})

    next_url = response.json()["next"]
    assert next_url.startswith(f"{url}?")
    assert "q=blue" in next_url
    assert "limit=2" in next_url
    assert "cursor=" in next_url


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": str(MAX_PAGE_SIZE + 1)}, "query.limit"),
        ({"limit": "0"}, "query.limit"),
        ({"q": ""}, "query.q"),
    ],
)
def test_search_rejects_bad_parameters(
    api_client: Client, query: dict[str, str], field: str
) -> None:
    response = api_client.get(reverse("api-v1:catalogue-search", args=["tracks"]), query)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert [d["field"] for d in response.json()["details"]] == [field]


def test_search_accepts_the_max_page_size(api_client: Client) -> None:
    response = api_client.get(
        reverse("api-v1:catalogue-search", args=["tracks"]), {"limit": str(MAX_PAGE_SIZE)}
    )

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("cursor", "code"),
    [
        ("bm90LWpzb24", "invalid_cursor"),  # base64 of "not-json"
        ("eyJvIjotMX0", "invalid_cursor"),  # {"o":-1}
        ("eyJvIjoxMDAwMX0", "invalid_cursor"),  # {"o":10001}, past MAX_OFFSET
        ("eyJvIjo5MjIzMzcyMDM2ODU0Nzc1ODA4fQ", "invalid_cursor"),  # {"o":2**63}: no DB error
        ("not a cursor!", "validation_error"),
    ],
)
def test_malformed_cursor_is_422(api_client: Client, cursor: str, code: str) -> None:
    response = api_client.get(
        reverse("api-v1:catalogue-search", args=["tracks"]), {"cursor": cursor}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == code


def test_the_deepest_allowed_offset_is_served_without_a_next_link(api_client: Client) -> None:
    response = api_client.get(
        reverse("api-v1:catalogue-search", args=["tracks"]),
        {"cursor": "eyJvIjoxMDAwMH0"},  # {"o":10000}, MAX_OFFSET
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "items": [],
        "count": 0,
        "next": None,
        "previous": f"{reverse('api-v1:catalogue-search', args=['tracks'])}?cursor=eyJvIjo5OTgwfQ",
    }


@pytest.mark.parametrize("kind", ["track", "songs", "users"])
def test_unknown_kind_is_422(api_client: Client, kind: str) -> None:
    response = api_client.get(f"/api/v1/catalogue/{kind}")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"][0]["field"] == "path.kind"


def test_track_detail_includes_artists_and_album(
    api_client: Client, auth_queries: int, django_assert_num_queries
) -> None:
    album = AlbumFactory.create(name="OK Computer", release_year=1997)
    artist = ArtistFactory.create(name="Radiohead")
    track = TrackFactory.create(name="Airbag", album=album, duration_ms=284000)
    track.artists.add(artist)

    # The track with its album (join), then its artists (prefetch).
    with django_assert_num_queries(auth_queries + 2):
        response = api_client.get(
            reverse("api-v1:catalogue-item", args=["tracks", track.public_id])
        )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "id": str(track.public_id),
        "kind": "track",
        "name": "Airbag",
        "external_ids": {},
        "images": [],
        "artists": [
            {
                "id": str(artist.public_id),
                "kind": "artist",
                "name": "Radiohead",
                "external_ids": {},
                "images": [],
            }
        ],
        "album": {
            "id": str(album.public_id),
            "kind": "album",
            "name": "OK Computer",
            "external_ids": {},
            "images": [],
        },
        "genres": [],
        "duration_ms": 284000,
        "release_year": None,
    }


def test_artist_detail_includes_genres(api_client: Client) -> None:
    genre = GenreFactory.create(name="Art rock")
    artist = ArtistFactory.create(name="Radiohead")
    artist.genres.add(genre)

    response = api_client.get(reverse("api-v1:catalogue-item", args=["artists", artist.public_id]))

    assert [g["name"] for g in response.json()["genres"]] == ["Art rock"]
    assert response.json()["artists"] == []
    assert response.json()["album"] is None


def test_detail_of_unknown_id_or_wrong_kind_is_404_envelope(api_client: Client) -> None:
    track = TrackFactory.create()

    for kind, item_id in [("tracks", uuid.uuid4()), ("artists", track.public_id)]:
        response = api_client.get(reverse("api-v1:catalogue-item", args=[kind, item_id]))

        assert response.status_code == HTTPStatus.NOT_FOUND
        body = response.json()
        assert (body["error"], body["status_code"], body["code"]) == (True, 404, "item_not_found")


def test_catalogue_requires_authentication(client: Client) -> None:
    response = client.get(reverse("api-v1:catalogue-search", args=["tracks"]))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
