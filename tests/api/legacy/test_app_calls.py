"""Calls the deployed Flutter app makes that the legacy layer once refused: list rows under
``results`` too, a refresh of every connected service, the item ids spelt as the app spells
them, a username under ``bud_id``, ``PUT`` on my profile, and another user's public profile
and taste."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.utils import timezone

from api.legacy.api import legacy_api
from musicbud.connections.models import ConnectionStatus, ProviderConnection, SyncJob
from musicbud.models import Relation, User
from musicbud.services.taste import taste_edge_set
from tests.api.legacy.conftest import LegacyWorld
from tests.factories import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory
from tests.fixtures.http import assert_envelope
from tooling.standins import ProviderStandIn

pytestmark = pytest.mark.django_db


def _uid(user: User) -> str:
    return user.public_id.hex


def test_every_legacy_page_has_its_rows_under_results_too(legacy: LegacyWorld) -> None:
    ben = {"bud_id": _uid(legacy.world.users["ben"])}
    for method, path, data in (
        ("GET", "/v1/me/liked/tracks/", {}),
        ("POST", "/bud/liked/tracks", {}),
        ("POST", "/bud/common/liked/artists", ben),
        ("GET", "/bud/search", {"q": "a"}),
        ("POST", "/bud/track", {"track_id": legacy.world.tracks["hit"].public_id.hex}),
    ):
        body = legacy.call(method, path, data).json()
        assert body["data"], path
        assert body["results"] == body["data"], path


def test_the_legacy_document_names_results_in_every_page() -> None:
    schemas = legacy_api.get_openapi_schema(path_prefix="/")["components"]["schemas"]
    pages = {name: s for name, s in schemas.items() if name.startswith("LegacyPage")}
    assert pages
    for name, schema in pages.items():
        assert "results" in schema["required"], name


def _connection(user: User, provider: str, status: str) -> ProviderConnection:
    return ProviderConnection.objects.create(
        user=user,
        provider=provider,
        status=status,
        account_id=f"{provider}-account",
        connected_at=timezone.now(),
    )


def test_likes_update_without_a_service_syncs_every_connected_one(
    legacy: LegacyWorld, standin: ProviderStandIn
) -> None:
    me = legacy.world.me
    spotify = _connection(me, "spotify", ConnectionStatus.CONNECTED)
    _connection(me, "lastfm", ConnectionStatus.NEEDS_REAUTH)
    _connection(legacy.world.users["ben"], "lastfm", ConnectionStatus.CONNECTED)

    response = legacy.call("POST", "/v1/me/likes/update/")

    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    body = response.json()
    assert (body["code"], body["successful"]) == (202, True)
    assert [(c["provider"], c["last_sync"]["status"]) for c in body["data"]] == [
        ("spotify", "queued")
    ]
    # Only my connected service: not the one needing re-authorization, not ben's.
    assert list(SyncJob.objects.values_list("connection_id", flat=True)) == [spotify.pk]


def test_likes_update_with_nothing_connected_queues_nothing(
    legacy: LegacyWorld, standin: ProviderStandIn
) -> None:
    response = legacy.call("POST", "/me/likes/update")

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["data"] == []
    assert not SyncJob.objects.exists()


@pytest.mark.parametrize(
    ("kind", "field"),
    [("artist", "artistId"), ("genre", "genreId"), ("track", "trackId"), ("album", "albumId")],
)
def test_an_items_buds_take_its_id_spelt_as_the_app_spells_it(
    legacy: LegacyWorld, kind: str, field: str
) -> None:
    item = {
        "artist": ArtistFactory.create,
        "genre": GenreFactory.create,
        "track": TrackFactory.create,
        "album": AlbumFactory.create,
    }[kind]()
    taste_edge_set(user=legacy.world.users["ana"], kind=kind, item=item, relation=Relation.LIKE)

    camel = legacy.call("GET", f"/v1/bud/{kind}/", {field: item.public_id.hex}).json()
    snake = legacy.call("GET", f"/v1/bud/{kind}/", {f"{kind}_id": item.public_id.hex}).json()

    assert [row["bud"]["username"] for row in camel["data"]] == ["ana"]
    assert camel["data"] == snake["data"]


def test_bud_profile_takes_a_username_under_bud_id(legacy: LegacyWorld) -> None:
    ben = legacy.world.users["ben"]

    by_name = legacy.call("POST", "/v1/bud/profile/", {"bud_id": "BEN"}).json()
    by_uid = legacy.call("POST", "/v1/bud/profile/", {"bud_id": _uid(ben)}).json()
    common = legacy.call("POST", "/bud/common/liked/tracks", {"bud_id": "ben"}).json()

    assert by_name == by_uid
    assert by_name["data"]["bud"]["uid"] == _uid(ben)
    assert [item["name"] for item in common["data"]] == ["hit"]
    missing = legacy.call("POST", "/bud/profile", {"bud_id": "nobody"})
    assert_envelope(missing, HTTPStatus.NOT_FOUND, "user_not_found", extra={"success": False})


def test_put_on_my_profile_changes_it_as_profile_set_does(legacy: LegacyWorld) -> None:
    response = legacy.client.put(
        "/v1/me/profile/",
        {"bio": "Jazz at night", "first_name": "Ada"},
        content_type="application/json",
        headers=legacy.headers,
    )

    assert response.status_code == HTTPStatus.OK, response.content
    assert (response.json()["bio"], response.json()["first_name"]) == ("Jazz at night", "Ada")
    me = User.objects.get(pk=legacy.world.me.pk)
    assert (me.bio, me.first_name) == ("Jazz at night", "Ada")
    assert legacy.call("GET", "/me/profile").json() == response.json()


def test_another_users_public_profile_in_the_legacy_envelope(legacy: LegacyWorld) -> None:
    ben = legacy.world.users["ben"]

    response = legacy.call("GET", f"/v1/users/{_uid(ben)}")

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {
        "message": "Fetched user successfully.",
        "code": 200,
        "successful": True,
        "data": {
            "uid": _uid(ben),
            "username": "ben",
            "display_name": "Ben",
            "bio": "",
            "avatar_url": "",
        },
    }
    assert ben.email not in response.content.decode()
    assert response["Link"] == '</api/v1/users/{username}>; rel="successor-version"'


def test_another_users_taste_lists(legacy: LegacyWorld) -> None:
    ben = _uid(legacy.world.users["ben"])

    liked_tracks = legacy.call("GET", f"/v1/users/{ben}/liked/tracks/").json()
    liked_artists = legacy.call("POST", f"/users/{ben}/liked/artists").json()
    top = legacy.call("GET", f"/v1/users/{ben}/top/artists").json()
    played = legacy.call("GET", f"/v1/users/{ben}/played/tracks/").json()

    assert [i["name"] for i in liked_tracks["data"]] == ["hit"]
    assert [i["name"] for i in liked_artists["data"]] == ["other", "band"]
    assert [(i["name"], i["rank"]) for i in top["data"]] == [("band", 1)]
    assert [(i["name"], i["play_count"]) for i in played["data"]] == [("hit", 2)]
    assert liked_tracks["results"] == liked_tracks["data"]


@pytest.mark.parametrize("who", ["eve", "0" * 32, "not-a-uid"])
def test_an_unknown_or_inactive_user_is_a_404(legacy: LegacyWorld, who: str) -> None:
    uid = _uid(legacy.world.users["eve"]) if who == "eve" else who
    for path in (f"/v1/users/{uid}", f"/v1/users/{uid}/liked/tracks"):
        assert_envelope(
            legacy.call("GET", path),
            HTTPStatus.NOT_FOUND,
            "user_not_found",
            extra={"success": False},
        )
