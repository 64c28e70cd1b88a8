"""The legacy service-connect routes on the connections API, against the provider stand-in:
the authorization link, the provider's callback at its legacy path, whether a connection
exists, and a sync."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client

from musicbud.connections.models import ProviderConnection
from tests.api.legacy.conftest import LegacyWorld
from tests.fixtures.http import assert_envelope
from tests.fixtures.providers import browser_at_provider
from tooling.standins import ProviderStandIn
from tooling.standins.mal import mal_entry
from tooling.standins.spotify import spotify_library
from tooling.standins.ytmusic import ytmusic_video

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def _legacy_callback(authorization_link: str, provider: str) -> str:
    """The browser goes to the provider, which sends it back; the app's callback is the
    legacy path, with what the provider appended."""
    return f"/v1/{provider}/callback?{browser_at_provider(authorization_link).query}"


def test_connect_spotify_then_sync_through_the_legacy_routes(
    legacy: LegacyWorld, standin: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    standin.spotify.library = spotify_library(
        saved_tracks=2,
        saved_albums=0,
        followed_artists=0,
        top_tracks=0,
        top_artists=0,
        recent_plays=0,
        tracks_per_album=1,
        albums_per_artist=1,
    )
    me = legacy.world.me
    not_yet = legacy.call("POST", "/v1/spotify/connect/")
    assert_envelope(not_yet, HTTPStatus.NOT_FOUND, "connection_not_found", extra={"success": False})

    link = legacy.call("GET", "/v1/service/login", {"service": "spotify"})

    assert link.status_code == HTTPStatus.OK
    body = link.json()
    assert (body["message"], body["code"], body["successful"]) == (
        "Authorization link generated.",
        200,
        True,
    )
    authorization_link = body["data"]["authorization_link"]
    assert authorization_link.startswith(standin.base_url)
    with django_capture_on_commit_callbacks(execute=True):
        back = legacy.client.get(_legacy_callback(authorization_link, "spotify"))
    assert back.status_code == HTTPStatus.FOUND
    assert back["Location"] == "https://app.example.org/connected?provider=spotify&status=ok"
    assert back["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert ProviderConnection.objects.filter(user=me, provider="spotify").count() == 1

    connected = legacy.call("GET", "/spotify/connect")
    assert connected.status_code == HTTPStatus.OK
    data = connected.json()["data"]
    assert (data["provider"], data["status"]) == ("spotify", "connected")
    assert data["account"] == {"id": "standin-user", "display_name": "Stand-in User"}
    assert "token" not in connected.content.decode().lower().replace("standin", "")

    with django_capture_on_commit_callbacks(execute=True):
        update = legacy.call("POST", "/v1/me/likes/update/", {"service": "spotify"})
    assert update.status_code == HTTPStatus.ACCEPTED
    assert update.json()["code"] == 202
    assert update.json()["data"]["provider"] == "spotify"
    liked = legacy.call("GET", "/v1/me/liked/tracks/").json()
    synced = sorted(
        (item for item in liked["data"] if item["spotify_id"]), key=lambda i: i["spotify_id"]
    )
    assert [(i["spotify_id"], i["album_name"], i["artist_name"]) for i in synced] == [
        ("trk000000", "Album 0", "Artist 0"),
        ("trk000001", "Album 1", "Artist 1"),
    ]
    # A track shows its album's cover.
    assert synced[0]["images"] == [
        {"url": "https://i.example/alb000000-640.jpg", "height": 640, "width": 640},
        {"url": "https://i.example/alb000000-64.jpg", "height": 64, "width": 64},
    ]


@pytest.mark.parametrize("provider", ["ytmusic", "mal"])
def test_service_login_connects_youtube_music_and_myanimelist_like_spotify(
    legacy: LegacyWorld,
    standin: ProviderStandIn,
    django_capture_on_commit_callbacks: Capture,
    provider: str,
) -> None:
    standin.ytmusic.library.liked_videos = [ytmusic_video(1)]
    standin.mal.library.anime = [mal_entry("anime", 1, score=9)]
    not_yet = legacy.call("POST", f"/{provider}/connect")
    assert_envelope(not_yet, HTTPStatus.NOT_FOUND, "connection_not_found", extra={"success": False})

    link = legacy.call("GET", "/v1/service/login/", {"service": provider})
    with django_capture_on_commit_callbacks(execute=True):
        back = legacy.client.get(
            _legacy_callback(link.json()["data"]["authorization_link"], provider)
        )

    assert back["Location"] == f"https://app.example.org/connected?provider={provider}&status=ok"
    connected = legacy.call("POST", f"/v1/{provider}/connect/")
    assert connected.status_code == HTTPStatus.OK
    data = connected.json()["data"]
    assert (data["provider"], data["status"], data["last_sync"]["status"]) == (
        provider,
        "connected",
        "succeeded",
    )
    assert data["last_sync"]["counts"]["like"] == {
        ("track" if provider == "ytmusic" else "anime"): {
            "added": 1,
            "updated": 0,
            "removed": 0,
            "unchanged": 0,
        }
    }


def test_service_login_needs_a_known_service(legacy: LegacyWorld, standin: ProviderStandIn) -> None:
    for data in ({}, {"service": "napster"}):
        response = legacy.call("POST", "/service/login", data)
        body = assert_envelope(
            response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", extra={"success": False}
        )
        assert [d["field"] for d in body["details"]] == ["body.service"]


def test_a_callback_with_a_forged_state_stores_nothing(
    legacy: LegacyWorld, standin: ProviderStandIn
) -> None:
    response = legacy.client.get("/lastfm/callback", {"state": "forged", "token": "t"})

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "invalid_state", extra={"success": False})
    assert not ProviderConnection.objects.exists()


def test_a_legacy_callback_in_another_browser_is_refused(
    legacy: LegacyWorld, standin: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    link = legacy.call("GET", "/v1/service/login", {"service": "spotify"})
    cookie = link.cookies["musicbud_connect_spotify"]
    assert (cookie["httponly"], cookie["samesite"], cookie["max-age"]) == (True, "Lax", 600)
    assert cookie["path"] == "/api/v1/connections/spotify/callback"  # the callback's setting
    callback = _legacy_callback(link.json()["data"]["authorization_link"], "spotify")

    with django_capture_on_commit_callbacks(execute=True):
        refused = Client().get(callback)

    assert_envelope(
        refused,
        HTTPStatus.BAD_REQUEST,
        "authorization_other_browser",
        extra={"success": False},
    )
    assert not ProviderConnection.objects.exists()
    # The state is spent: the browser that started cannot use it now either.
    with django_capture_on_commit_callbacks(execute=True):
        again = legacy.client.get(callback)
    assert_envelope(again, HTTPStatus.BAD_REQUEST, "invalid_state", extra={"success": False})
    assert not ProviderConnection.objects.exists()


def test_an_unconfigured_service_is_a_409_logged_at_info_at_most(
    legacy: LegacyWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    response = legacy.call("GET", "/v1/service/login", {"service": "lastfm"})

    assert_envelope(
        response,
        HTTPStatus.CONFLICT,
        "provider_not_configured",
        "Last.fm is not configured on this server (its client credentials are not in the settings)",
        extra={"success": False},
    )
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []
