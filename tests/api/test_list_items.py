"""What every v1 list shows of an item (images, a track's artists and album, an album's
artists), the lists' filters, and the totals and links of their pages."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.models import Artist, Relation, Track, User
from musicbud.services.taste import taste_edge_set
from tests.factories import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory, UserFactory

pytestmark = pytest.mark.django_db

COVER = [
    {"url": "https://i.example/ok-640.jpg", "width": 640, "height": 640},
    {"url": "https://i.example/ok-64.jpg", "width": 64, "height": 64},
]


def _silver_avenues() -> tuple[list[Track], list[Artist]]:
    """Two tracks of one name, told apart by their artists and albums."""
    artists = [ArtistFactory.create(name=name) for name in ("Ana Lua", "Bo Ray")]
    albums = [
        AlbumFactory.create(name="Lights", images=COVER),
        AlbumFactory.create(name="Roads", images=[{"url": "https://i.example/roads.jpg"}]),
    ]
    tracks = []
    for artist, album in zip(artists, albums, strict=True):
        track = TrackFactory.create(name="Silver Avenue", album=album)
        track.artists.add(artist)
        album.artists.add(artist)
        tracks.append(track)
    return tracks, artists


def _link(item, kind: str) -> dict[str, str]:
    return {"id": str(item.public_id), "kind": kind, "name": item.name}


def test_catalogue_tracks_show_their_artists_album_and_the_album_cover(
    api_client: Client, auth_queries: int, django_assert_num_queries
) -> None:
    tracks, artists = _silver_avenues()
    albums = [track.album for track in tracks]

    # The tracks with their albums (join), their artists (prefetch); one page: no count query.
    with django_assert_num_queries(auth_queries + 2):
        response = api_client.get(
            reverse("api-v1:catalogue-search", args=["tracks"]), {"q": "silver"}
        )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["items"] == [
        {
            "id": str(track.public_id),
            "kind": "track",
            "name": "Silver Avenue",
            "external_ids": {},
            "images": images,
            "artists": [_link(artist, "artist")],
            "album": _link(album, "album"),
        }
        for track, artist, album, images in zip(
            tracks,
            artists,
            albums,
            [COVER, [{"url": "https://i.example/roads.jpg", "width": None, "height": None}]],
            strict=True,
        )
    ]


def test_albums_list_their_artists(api_client: Client) -> None:
    _, artists = _silver_avenues()

    items = api_client.get(reverse("api-v1:catalogue-search", args=["albums"])).json()["items"]

    assert [(item["name"], item["artists"], item["album"]) for item in items] == [
        ("Lights", [_link(artists[0], "artist")], None),
        ("Roads", [_link(artists[1], "artist")], None),
    ]
    assert items[0]["images"] == COVER


def test_catalogue_is_filtered_by_artist_album_and_genre(api_client: Client) -> None:
    tracks, artists = _silver_avenues()
    rock = GenreFactory.create(name="Rock")
    artists[1].genres.add(rock)
    url = reverse("api-v1:catalogue-search", args=["tracks"])

    by_artist = api_client.get(url, {"artist": str(artists[1].public_id)}).json()
    album = tracks[0].album
    assert album is not None
    by_album = api_client.get(url, {"album": str(album.public_id)}).json()
    by_genre = api_client.get(
        reverse("api-v1:catalogue-search", args=["artists"]), {"genre": str(rock.public_id)}
    ).json()

    assert [item["id"] for item in by_artist["items"]] == [str(tracks[1].public_id)]
    assert by_artist["count"] == 1
    assert [item["id"] for item in by_album["items"]] == [str(tracks[0].public_id)]
    assert [item["name"] for item in by_genre["items"]] == ["Bo Ray"]


def test_a_filter_the_kind_does_not_have_is_a_422_naming_it(api_client: Client) -> None:
    response = api_client.get(
        reverse("api-v1:catalogue-search", args=["genres"]),
        {"album": str(AlbumFactory.create().public_id)},
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "validation_error"
    assert [detail["field"] for detail in response.json()["details"]] == ["query.album"]


def test_my_likes_are_searched_and_sorted(api_client: Client, user: User) -> None:
    for name in ["Banana Song", "apple song", "Cherry"]:
        taste_edge_set(
            user=user, kind="track", item=TrackFactory.create(name=name), relation=Relation.LIKE
        )
    url = reverse("api-v1:my-likes", args=["tracks"])

    def names(**query: str) -> list[str]:
        return [row["item"]["name"] for row in api_client.get(url, query).json()["items"]]

    assert names() == ["Cherry", "apple song", "Banana Song"]  # newest first
    assert names(sort="oldest") == ["Banana Song", "apple song", "Cherry"]
    assert names(sort="name") == ["apple song", "Banana Song", "Cherry"]
    assert names(q="SONG", sort="name") == ["apple song", "Banana Song"]
    assert api_client.get(url, {"q": "song"}).json()["count"] == 2
    assert api_client.get(url, {"sort": "loudest"}).status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_user_search_without_q_lists_everyone_else_by_username(
    api_client: Client, user: User
) -> None:
    for name in ["zed", "Amy", "bob"]:
        UserFactory.create(username=name)
    inactive = UserFactory.create(username="ann")
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])

    body = api_client.get(reverse("api-v1:user-search"), {"limit": "2"}).json()

    assert [row["username"] for row in body["items"]] == ["Amy", "bob"]
    assert body["count"] == 3
    following = api_client.get(body["next"]).json()
    assert [row["username"] for row in following["items"]] == ["zed"]
    assert following["previous"] == f"{reverse('api-v1:user-search')}?limit=2"


def test_offset_pages_link_back_page_by_page(api_client: Client) -> None:
    for index in range(5):
        GenreFactory.create(name=f"G{index}")
    url = reverse("api-v1:catalogue-search", args=["genres"])

    first = api_client.get(url, {"limit": "2"}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()
    back = api_client.get(third["previous"]).json()

    assert [page["count"] for page in (first, second, third)] == [5, 5, 5]
    assert first["previous"] is None
    assert second["previous"] == f"{url}?limit=2"
    assert [item["name"] for item in back["items"]] == ["G2", "G3"]
    assert back["next"] == second["next"]
