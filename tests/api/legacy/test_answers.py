"""What the legacy routes answer, exactly: auth, the profile, taste lists, buds, common items,
a bud's profile, search; the page envelope; and a Flutter client session replayed."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.models import Relation, User
from musicbud.services.taste import taste_edge_set
from tests.api.legacy.conftest import DART_AGENT, LegacyWorld
from tests.factories import (
    DEFAULT_PASSWORD,
    AlbumFactory,
    AnimeFactory,
    ArtistFactory,
    MangaFactory,
    TrackFactory,
)
from tests.fixtures.http import assert_envelope, bearer

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {"count", "next", "previous", "data", "results", "message", "code", "successful"}
USER_KEYS = {"uid", "username", "display_name", "bio", "avatar_url"}
ITEM_KEYS = {
    "uid",
    "name",
    "kind",
    "artist_name",
    "album_name",
    "images",
    "spotify_id",
    "lastfm_id",
    "ytmusic_id",
}


def legacy_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The project's error envelope plus ``"success": false``."""
    body: dict[str, Any] = assert_envelope(response, status, code, extra={"success": False})
    return body


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_login_answers_both_token_names_and_the_tokens_work_on_v1(
    client: Client, user: User, form: bool
) -> None:
    credentials = {"username": user.username, "password": DEFAULT_PASSWORD}
    if form:
        response = client.post("/v1/login/", credentials)  # application/x-www-form-urlencoded
    else:
        response = client.post("/v1/login/", credentials, content_type="application/json")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {
        "success",
        "message",
        "access_token",
        "refresh_token",
        "access",
        "refresh",
        "expires_in",
    }
    assert (body["success"], body["message"], body["expires_in"]) == (True, "Login successful", 900)
    assert body["access"] == body["access_token"]
    assert body["refresh"] == body["refresh_token"]
    me = client.get(reverse("api-v1:my-profile"), headers=bearer(body["access_token"]))
    assert me.json()["username"] == user.username
    assert "sessionid" not in response.cookies


def test_a_bad_login_is_401_with_success_false(client: Client, user: User) -> None:
    response = client.post(
        "/login/", {"username": user.username, "password": "wrong"}, content_type="application/json"
    )

    body = legacy_error(response, HTTPStatus.UNAUTHORIZED, "invalid_credentials")
    assert body["message"] == "Invalid username or password"


def test_a_login_without_a_password_is_422_naming_it(client: Client, user: User) -> None:
    response = client.post("/login", {"username": user.username})

    body = legacy_error(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert [d["field"] for d in body["details"]] == ["body.password"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("text/plain", "username=a", HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("application/json", "{nope", HTTPStatus.BAD_REQUEST, "bad_request"),
        ("application/json", "[1, 2]", HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
    ],
)
def test_unreadable_bodies_are_clear_errors(
    client: Client, content_type: str, body: str, status: int, code: str
) -> None:
    response = client.post("/v1/login/", body, content_type=content_type)

    legacy_error(response, status, code)


def test_register_creates_the_account_and_answers_its_uid(client: Client) -> None:
    response = client.post(
        "/v1/register/",
        {"username": "newbie", "email": "newbie@example.org", "password": "a-long-passphrase-1"},
        content_type="application/json",
    )

    assert response.status_code == HTTPStatus.CREATED
    created = User.objects.get(username="newbie")
    assert response.json() == {
        "success": True,
        "message": "Registration successful",
        "user_id": created.public_id.hex,
    }
    assert created.check_password("a-long-passphrase-1")


def test_register_with_a_taken_username_is_409_and_creates_nothing(
    client: Client, user: User
) -> None:
    response = client.post(
        "/register/",
        {"username": user.username, "email": "other@example.org", "password": "a-long-pass-2"},
        content_type="application/json",
    )

    legacy_error(response, HTTPStatus.CONFLICT, "username_taken")
    assert User.objects.count() == 1


def test_refresh_does_not_rotate_and_dies_with_logout(legacy: LegacyWorld) -> None:
    refresh = legacy.tokens.refresh_token

    first = legacy.client.post("/v1/token/refresh", {"refresh": refresh})
    second = legacy.client.post(
        "/v1/token/refresh", {"refresh_token": refresh}, content_type="application/json"
    )

    for response in (first, second):
        assert response.status_code == HTTPStatus.OK
        body = response.json()
        assert set(body) == {"access", "access_token", "expires_in"}
        assert body["access"] == body["access_token"]
        assert body["expires_in"] == 900
    assert first.json()["access"] != second.json()["access"]
    renewed = {**bearer(second.json()["access"]), "User-Agent": DART_AGENT}
    assert legacy.client.post("/v1/me/profile/", headers=renewed).status_code == HTTPStatus.OK

    logout = legacy.client.get("/v1/logout", headers=renewed)

    assert logout.status_code == HTTPStatus.OK
    assert logout.json() == {"message": "Logged out successfully"}
    refused = legacy.client.post("/v1/token/refresh", {"refresh": refresh})
    legacy_error(refused, HTTPStatus.UNAUTHORIZED, "token_revoked")
    for access in (legacy.tokens.access_token, first.json()["access"]):
        after = legacy.client.post("/v1/me/profile/", headers=bearer(access))
        legacy_error(after, HTTPStatus.UNAUTHORIZED, "token_revoked")


def test_refresh_with_a_token_v1_rotated_is_reuse(legacy: LegacyWorld) -> None:
    rotated = legacy.client.post(
        reverse("api-v1:auth-refresh"),
        {"refresh_token": legacy.tokens.refresh_token},
        content_type="application/json",
    )
    assert rotated.status_code == HTTPStatus.OK

    response = legacy.client.post("/token/refresh", {"refresh": legacy.tokens.refresh_token})

    legacy_error(response, HTTPStatus.UNAUTHORIZED, "token_reused")
    again = legacy.client.post("/token/refresh", {"refresh": rotated.json()["refresh_token"]})
    legacy_error(again, HTTPStatus.UNAUTHORIZED, "token_revoked")


def test_refresh_after_a_password_change_is_refused(legacy: LegacyWorld) -> None:
    changed = legacy.client.post(
        reverse("api-v1:auth-password"),
        {"old_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
        content_type="application/json",
        headers=legacy.headers,
    )
    assert changed.status_code == HTTPStatus.NO_CONTENT

    response = legacy.client.post("/token/refresh", {"refresh": legacy.tokens.refresh_token})

    legacy_error(response, HTTPStatus.UNAUTHORIZED, "token_revoked")


def test_refresh_needs_a_token(client: Client) -> None:
    body = legacy_error(
        client.post("/token/refresh", {}), HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"
    )
    assert [d["field"] for d in body["details"]] == ["body.refresh"]


# --- my profile -------------------------------------------------------------------------------


def test_my_profile_has_the_legacy_fields(legacy: LegacyWorld) -> None:
    me = legacy.world.me
    User.objects.filter(pk=me.pk).update(first_name="Ada", last_name="L", location="Leeds")

    response = legacy.call("POST", "/v1/me/profile/")

    assert response.json() == {
        "uid": me.public_id.hex,
        "username": me.username,
        "display_name": me.display_name,
        "bio": "",
        "avatar_url": "",
        "email": me.email,
        "first_name": "Ada",
        "last_name": "L",
        "location": "Leeds",
    }
    assert legacy.call("GET", "/me/profile").content == response.content


@pytest.mark.parametrize("multipart", [False, True], ids=["json", "multipart"])
def test_profile_set_changes_the_fields_it_is_sent(legacy: LegacyWorld, multipart: bool) -> None:
    fields = {"display_name": " Ada ", "first_name": "Ada", "last_name": "King", "location": "Rome"}
    sent = {**fields, "photo": ""}  # the app's extra fields are ignored, as before
    if multipart:
        response = legacy.client.post("/v1/me/profile/set/", sent, headers=legacy.headers)
    else:
        response = legacy.call("POST", "/v1/me/profile/set/", sent)

    assert response.status_code == HTTPStatus.OK
    assert {key: response.json()[key] for key in fields} == {
        "display_name": "Ada",
        "first_name": "Ada",
        "last_name": "King",
        "location": "Rome",
    }
    me = User.objects.get(pk=legacy.world.me.pk)
    assert (me.display_name, me.first_name, me.last_name, me.location, me.bio) == (
        "Ada",
        "Ada",
        "King",
        "Rome",
        "",
    )
    v1 = legacy.client.get(reverse("api-v1:my-profile"), headers=legacy.headers).json()
    assert (v1["first_name"], v1["last_name"], v1["location"]) == ("Ada", "King", "Rome")


def test_profile_set_rejects_a_bad_value_and_changes_nothing(legacy: LegacyWorld) -> None:
    response = legacy.call("POST", "/me/profile/set", {"location": "x" * 101, "first_name": "Ada"})

    body = legacy_error(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert [d["field"] for d in body["details"]] == ["body.location"]
    assert User.objects.get(pk=legacy.world.me.pk).first_name == ""


def test_profile_set_refuses_a_display_name_that_could_pass_for_another(
    legacy: LegacyWorld,
) -> None:
    response = legacy.call("POST", "/me/profile/set", {"display_name": "\u3164"})

    body = legacy_error(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert [d["field"] for d in body["details"]] == ["body.display_name"]
    assert User.objects.get(pk=legacy.world.me.pk).display_name == legacy.world.me.display_name


# --- my taste lists and the page envelope -----------------------------------------------------


def test_my_liked_tracks_page_through_the_legacy_envelope(legacy: LegacyWorld) -> None:
    tracks = legacy.world.tracks

    first = legacy.call("GET", "/v1/me/liked/tracks/?page_size=2").json()
    second = legacy.call("POST", "/v1/me/liked/tracks/?page_size=2&page=2").json()

    assert set(first) == ENVELOPE_KEYS
    assert (first["count"], first["code"], first["successful"]) == (3, 200, True)
    assert first["message"] == "Fetched liked tracks successfully."
    assert first["next"] == "http://testserver/v1/me/liked/tracks/?page_size=2&page=2"
    assert first["previous"] is None
    assert second["next"] is None
    assert second["previous"] == "http://testserver/v1/me/liked/tracks/?page_size=2"
    # Newest like first, as v1 lists them.
    names = [item["name"] for item in first["data"] + second["data"]]
    assert names == ["rare2", "rare1", "hit"]
    assert first["data"][0] == {
        "uid": tracks["rare2"].public_id.hex,
        "name": "rare2",
        "kind": "track",
        "artist_name": None,
        "album_name": None,
        "images": [],
        "spotify_id": None,
        "lastfm_id": None,
        "ytmusic_id": None,
    }


def test_a_track_names_its_artist_and_album(legacy: LegacyWorld) -> None:
    album = AlbumFactory.create(name="OK Computer")
    track = TrackFactory.create(name="Airbag", album=album, spotify_id="sp-airbag")
    track.artists.add(ArtistFactory.create(name="Radiohead"))
    taste_edge_set(user=legacy.world.me, kind="track", item=track, relation=Relation.LIKE)

    item = legacy.call("GET", "/me/liked/tracks?page_size=1").json()["data"][0]

    assert (item["name"], item["artist_name"], item["album_name"], item["spotify_id"]) == (
        "Airbag",
        "Radiohead",
        "OK Computer",
        "sp-airbag",
    )


def test_top_and_played_lists_carry_rank_and_play_count(legacy: LegacyWorld) -> None:
    top = legacy.call("POST", "/me/top/artists").json()
    played = legacy.call("POST", "/me/played/tracks").json()
    empty = legacy.call("POST", "/me/top/genres").json()

    assert [(i["name"], i["rank"]) for i in top["data"]] == [("band", 1)]
    assert [(i["name"], i["play_count"]) for i in played["data"]] == [("hit", 5)]
    assert set(played["data"][0]) == ITEM_KEYS | {"play_count"}
    assert (empty["count"], empty["data"], empty["message"]) == (0, [], "No top genres found.")


@pytest.mark.parametrize(
    ("query", "size"), [("page_size=0", 10), ("page_size=abc", 10), ("page_size=1000", 100)]
)
def test_an_unusable_page_size_falls_back_as_the_legacy_paginator_did(
    legacy: LegacyWorld, query: str, size: int
) -> None:
    for index in range(size + 1 - 3):
        taste_edge_set(
            user=legacy.world.me,
            kind="track",
            item=TrackFactory.create(name=f"t{index:03}"),
            relation=Relation.LIKE,
        )

    body = legacy.call("GET", f"/me/liked/tracks?{query}").json()

    assert body["count"] == size + 1
    assert len(body["data"]) == size
    assert body["next"] == f"http://testserver/me/liked/tracks?{query}&page=2"


@pytest.mark.parametrize("page", ["3", "0", "-1", "x", "1" * 10, "1&page=1"])
def test_a_page_past_the_last_or_not_a_page_is_404(legacy: LegacyWorld, page: str) -> None:
    response = legacy.call("GET", f"/me/liked/tracks?page_size=2&page={page}")

    legacy_error(response, HTTPStatus.NOT_FOUND, "invalid_page")


def test_a_field_sent_twice_is_a_422_naming_it(legacy: LegacyWorld) -> None:
    response = legacy.call("GET", "/bud/search?q=an&q=be&page_size=2&page_size=3&other=1&other=2")

    body = legacy_error(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    # Only the operation's own fields: paging and unknown fields are not its input.
    assert body["details"] == [
        {"field": "query.q", "message": "Sent more than once", "type": "repeated"}
    ]
    assert body["message"] == "Send each field once"


# --- buds -------------------------------------------------------------------------------------


def _v1_buds(legacy: LegacyWorld, query: str) -> list[tuple[str, float]]:
    body = legacy.client.get(f"/api/v1/me/buds?{query}", headers=legacy.headers).json()
    return [(bud["user"]["username"], bud["score"]) for bud in body["items"]]


def _rows(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(row["bud"]["username"], row["similarity_score"]) for row in body["data"]]


@pytest.mark.parametrize(
    ("path", "v1_query"),
    [
        ("bud/liked/tracks", "source=likes&kind=tracks"),
        ("bud/liked/artists", "source=likes&kind=artists"),
        ("bud/liked/aio", "source=likes"),
        ("bud/top/artists", "source=top&kind=artists"),
        ("bud/played/tracks", "source=played&kind=tracks"),
    ],
)
def test_bud_cells_are_the_v1_ranking_in_the_legacy_shape(
    legacy: LegacyWorld, path: str, v1_query: str
) -> None:
    body = legacy.call("POST", f"/v1/{path}/").json()

    assert set(body) == ENVELOPE_KEYS
    assert _rows(body) == _v1_buds(legacy, v1_query)
    assert body["count"] == len(body["data"]) > 0
    for row in body["data"]:
        assert set(row) == {"bud", "similarity_score"}
        assert set(row["bud"]) == USER_KEYS
    assert "@example.org" not in json.dumps(body)


def test_bud_pages_count_the_whole_ranking(legacy: LegacyWorld) -> None:
    pages = [
        legacy.call("GET", f"/bud/liked/tracks?page_size=1&page={page}").json()
        for page in (1, 2, 3)
    ]

    assert [page["count"] for page in pages] == [3, 3, 3]
    assert [row for page in pages for row in _rows(page)] == _v1_buds(
        legacy, "source=likes&kind=tracks"
    )
    first, last = pages[0], pages[-1]
    assert first["next"] == "http://testserver/bud/liked/tracks?page_size=1&page=2"
    assert last["next"] is None
    assert last["previous"] == "http://testserver/bud/liked/tracks?page_size=1&page=2"


def test_an_items_buds_are_everyone_but_me_who_has_it(legacy: LegacyWorld) -> None:
    hit = legacy.world.tracks["hit"]

    body = legacy.call("POST", "/bud/track", {"track_id": str(hit.public_id)}).json()

    # eve is inactive; I hold it too but am not my own bud.
    assert sorted(r[0] for r in _rows(body)) == ["ben", "cat"]
    assert body["count"] == 2


def test_an_albums_buds_take_the_album_id_spelt_either_way(legacy: LegacyWorld) -> None:
    album = AlbumFactory.create()
    taste_edge_set(user=legacy.world.users["ana"], kind="album", item=album, relation=Relation.LIKE)

    body = legacy.call("GET", "/bud/album/", {"albumId": album.public_id.hex}).json()

    v1 = legacy.client.get(
        f"/api/v1/catalogue/albums/{album.public_id}/buds", headers=legacy.headers
    ).json()
    assert _rows(body) == [("ana", v1["items"][0]["score"])]


def test_an_items_buds_need_its_id(legacy: LegacyWorld) -> None:
    body = legacy_error(
        legacy.call("POST", "/bud/artist"), HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"
    )
    assert [d["field"] for d in body["details"]] == ["body.artist_id"]
    bad = legacy_error(
        legacy.call("POST", "/bud/artist", {"artist_id": "not-a-uid"}),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    assert [d["field"] for d in bad["details"]] == ["body.artist_id"]


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("bud/common/liked/tracks", ["rare1", "rare2"]),
        ("bud/common/top/tracks", []),
        ("bud/common/liked/artists", []),
    ],
)
def test_common_items_are_what_we_share_in_that_cell(
    legacy: LegacyWorld, path: str, names: list[str]
) -> None:
    ana = legacy.world.users["ana"]

    body = legacy.call("POST", f"/v1/{path}/", {"bud_id": str(ana.public_id)}).json()

    assert sorted(item["name"] for item in body["data"]) == names
    assert body["count"] == len(names)
    for item in body["data"]:
        assert set(item) == ITEM_KEYS


def test_common_items_by_username_and_by_relation(legacy: LegacyWorld) -> None:
    ben = {"username": "BEN"}

    top = legacy.call("GET", "/bud/common/top/artists", ben).json()
    played = legacy.call("GET", "/bud/common/played/tracks", ben).json()
    liked = legacy.call("GET", "/bud/common/liked/artists", ben).json()

    assert [i["name"] for i in top["data"]] == ["band"]
    assert [i["name"] for i in played["data"]] == ["hit"]
    assert [i["name"] for i in liked["data"]] == ["band"]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({}, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
        ({"bud_id": "0" * 32}, HTTPStatus.NOT_FOUND, "user_not_found"),
        ({"username": "nobody"}, HTTPStatus.NOT_FOUND, "user_not_found"),
        ({"username": "eve"}, HTTPStatus.NOT_FOUND, "user_not_found"),
        # Not a uid: a username, and nobody has it.
        ({"bud_id": "xyz"}, HTTPStatus.NOT_FOUND, "user_not_found"),
        ({"bud_id": "x" * 37}, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
    ],
)
def test_common_items_and_bud_profile_need_a_known_active_bud(
    legacy: LegacyWorld, data: dict[str, str], status: int, code: str
) -> None:
    for path in ("/bud/common/liked/tracks", "/bud/profile"):
        legacy_error(legacy.call("POST", path, data), status, code)


def test_i_am_not_my_own_bud(legacy: LegacyWorld) -> None:
    me = {"bud_id": legacy.world.me.public_id.hex}

    legacy_error(
        legacy.call("POST", "/bud/profile", me), HTTPStatus.UNPROCESSABLE_ENTITY, "same_user"
    )


def test_a_bud_profile_has_no_email_and_the_ranking_score(legacy: LegacyWorld) -> None:
    ben = legacy.world.users["ben"]
    v1_scores = dict(_v1_buds(legacy, "source=all"))

    body = legacy.call("POST", "/v1/bud/profile/", {"bud_id": ben.public_id.hex}).json()

    assert body == {
        "message": "Fetched bud profile successfully.",
        "code": 200,
        "successful": True,
        "data": {
            "bud": {
                "uid": ben.public_id.hex,
                "username": "ben",
                "display_name": "Ben",
                "bio": "",
                "avatar_url": "",
            },
            "similarity_score": v1_scores["ben"],
        },
    }


def test_a_bud_sharing_nothing_scores_zero(legacy: LegacyWorld) -> None:
    body = legacy.call("GET", "/bud/profile", {"username": "dan"}).json()

    assert body["data"]["similarity_score"] == 0.0


def test_search_pages_users_without_emails(legacy: LegacyWorld) -> None:
    by_body = legacy.call("POST", "/v1/bud/search/?page_size=1", {"query": "a"}).json()
    by_query = legacy.call("GET", "/bud/search?q=a&page_size=1&page=2").json()

    # ana and cat and dan contain "a" (username prefix first); eve is inactive, I am left out.
    assert by_body["count"] == by_query["count"] == 3
    assert [u["username"] for u in by_body["data"] + by_query["data"]] == ["ana", "cat"]
    assert set(by_body["data"][0]) == USER_KEYS
    assert "@" not in json.dumps(by_body)
    for query in ({}, {"q": "   "}, {"query": "", "q": " "}):
        body = legacy_error(
            legacy.call("GET", "/bud/search", query),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        assert body["message"] == "Send query (or q)"
        assert body["details"] == [
            {"field": "body.query", "message": "Field required", "type": "missing"}
        ]
    # A blank field beside a given one is left out, as if not sent.
    either = legacy.call("GET", "/bud/search", {"query": " ", "q": "an"}).json()
    assert [u["username"] for u in either["data"]] == ["ana", "dan"]


@pytest.mark.parametrize(("kind", "factory"), [("anime", AnimeFactory), ("manga", MangaFactory)])
def test_anime_and_manga_top_lists_answer_like_their_music_siblings(
    legacy: LegacyWorld, kind: str, factory: Any
) -> None:
    me, ben = legacy.world.me, legacy.world.users["ben"]
    shared, mine = factory.create(name="Mushishi"), factory.create(name="Monster")
    for rank, item in enumerate((shared, mine), start=1):
        taste_edge_set(user=me, kind=kind, item=item, relation="top", rank=rank)
    taste_edge_set(user=ben, kind=kind, item=shared, relation="top", rank=1)

    top = legacy.call("POST", f"/v1/me/top/{kind}/").json()
    buds = legacy.call("GET", f"/bud/top/{kind}").json()
    common = legacy.call("POST", f"/bud/common/top/{kind}", {"username": "ben"}).json()

    assert set(top) == ENVELOPE_KEYS
    assert [(i["name"], i["rank"], i["kind"]) for i in top["data"]] == [
        ("Mushishi", 1, kind),
        ("Monster", 2, kind),
    ]
    assert set(top["data"][0]) == ITEM_KEYS | {"rank"}
    assert (top["data"][0]["artist_name"], top["data"][0]["album_name"]) == (None, None)
    assert _rows(buds) == _v1_buds(legacy, f"source=top&kind={kind}")
    assert [row["bud"]["username"] for row in buds["data"]] == ["ben"]
    assert [i["name"] for i in common["data"]] == ["Mushishi"]


# --- a client session, as the Flutter app makes it --------------------------------------------


def test_a_flutter_session_replayed(client: Client, legacy: LegacyWorld) -> None:
    me, ana = legacy.world.me, legacy.world.users["ana"]
    agent = {"User-Agent": DART_AGENT}

    login = client.post(
        "/v1/login/",
        {"username": me.username, "password": DEFAULT_PASSWORD},
        content_type="application/json",
        headers=agent,
    ).json()
    access, refresh = login["access_token"], login["refresh_token"]

    def call(path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {**agent, **bearer(token or access)}
        return client.post(path, data or {}, content_type="application/json", headers=headers)

    profile = call("/v1/me/profile/")
    assert profile.json()["uid"] == me.public_id.hex
    buds = call("/v1/bud/liked/aio/").json()
    assert [row["bud"]["username"] for row in buds["data"]] == ["ben", "ana", "cat"]
    bud_id = buds["data"][1]["bud"]["uid"]
    assert bud_id == ana.public_id.hex
    common = call("/v1/bud/common/liked/tracks/", {"bud_id": bud_id}).json()
    assert sorted(item["name"] for item in common["data"]) == ["rare1", "rare2"]
    bud = call("/v1/bud/profile/", {"bud_id": bud_id}).json()
    assert bud["data"]["bud"]["username"] == "ana"

    renewed = client.post("/v1/token/refresh", {"refresh": refresh}, headers=agent)
    assert renewed.status_code == HTTPStatus.OK
    again = client.post("/v1/token/refresh", {"refresh": refresh}, headers=agent)
    assert again.status_code == HTTPStatus.OK
    access = again.json()["access_token"]
    assert call("/v1/me/profile/").status_code == HTTPStatus.OK

    logout = client.get("/v1/logout", headers={**agent, **bearer(access)})
    assert logout.json() == {"message": "Logged out successfully"}

    refused = client.post("/v1/token/refresh", {"refresh": refresh}, headers=agent)
    legacy_error(refused, HTTPStatus.UNAUTHORIZED, "token_revoked")
    legacy_error(call("/v1/me/profile/"), HTTPStatus.UNAUTHORIZED, "token_revoked")
