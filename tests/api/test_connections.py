"""Connections through HTTP against the provider stand-in: authorize, callback, sync, faults,
the diff, disconnect, and that no token shows anywhere."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from graph.models import EdgeVersion, ProjectionOutbox, UserLibrary
from musicbud.connections.models import (
    AuthorizationState,
    ConnectionStatus,
    ProviderConnection,
    SyncJob,
    SyncStatus,
)
from musicbud.connections.sync import connection_sync_run
from musicbud.connections.tasks import connections_resync_queue
from musicbud.models import TasteEdge, Track, User
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.providers import browser_at_provider, provider_settings_set
from tests.fixtures.taste import taste_edges
from tooling.standins import ProviderStandIn
from tooling.standins.lastfm import LastfmLibrary
from tooling.standins.spotify import spotify_artist, spotify_library

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def _url(name: str, provider: str) -> str:
    return reverse(f"api-v1:{name}", args=[provider])


def _browser_at_provider(authorization_url: str) -> str:
    """The callback path and query the provider sends the browser back to."""
    back = browser_at_provider(authorization_url)
    assert back.netloc == "testserver"
    return f"{back.path}?{back.query}"


def _connect(client: Client, capture: Capture, provider: str = "spotify", **headers: str) -> Any:
    started = client.post(_url("connection-authorize", provider))
    assert started.status_code == HTTPStatus.OK, started.content
    callback = _browser_at_provider(started.json()["authorization_url"])
    with capture(execute=True):
        return client.get(callback, headers=headers)


def _sync(client: Client, capture: Capture, provider: str = "spotify") -> dict[str, Any]:
    """Request a sync; the connection as it is once the job ran (the test's transaction holds
    the job back until the request is answered, so the answer itself shows it queued)."""
    with capture(execute=True):
        response = client.post(_url("connection-sync", provider))
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    body: dict[str, Any] = client.get(_url("connection", provider)).json()
    return body


@pytest.fixture
def small_library(standin: ProviderStandIn) -> ProviderStandIn:
    standin.spotify.library = spotify_library(
        saved_tracks=3,
        saved_albums=1,
        followed_artists=2,
        top_tracks=2,
        top_artists=2,
        recent_plays=3,
        tracks_per_album=2,
        albums_per_artist=1,
    )
    # Track 0 played twice, Track 1 once.
    plays = standin.spotify.library.recently_played
    plays[2] = {**plays[2], "track": plays[0]["track"]}
    return standin


@pytest.fixture
def connected(
    api_client: Client, small_library: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> ProviderConnection:
    """Spotify connected through the API (the small library synced once): its connection."""
    _connect(api_client, django_capture_on_commit_callbacks)
    return ProviderConnection.objects.get()


# --- listing and refusals -------------------------------------------------------------------


def test_unconfigured_providers_are_listed_and_their_endpoints_answer_409(
    api_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # A permanent configuration state, not an outage: a 4xx of its own, logged at INFO at most.
    caplog.set_level(logging.DEBUG)
    listing = api_client.get(reverse("api-v1:connections"))

    assert listing.status_code == HTTPStatus.OK
    assert listing.json() == {
        "items": [
            {
                "provider": "spotify",
                "status": "unconfigured",
                "account": None,
                "connected_at": None,
                "last_sync": None,
            },
            {
                "provider": "lastfm",
                "status": "unconfigured",
                "account": None,
                "connected_at": None,
                "last_sync": None,
            },
            {
                "provider": "ytmusic",
                "status": "unconfigured",
                "account": None,
                "connected_at": None,
                "last_sync": None,
            },
            {
                "provider": "mal",
                "status": "unconfigured",
                "account": None,
                "connected_at": None,
                "last_sync": None,
            },
        ]
    }
    for name in ("connection-authorize", "connection-sync"):
        assert_envelope(
            api_client.post(_url(name, "spotify")),
            HTTPStatus.CONFLICT,
            "provider_not_configured",
            "Spotify is not configured on this server (its client credentials are not in the "
            "settings)",
        )
    assert AuthorizationState.objects.count() == 0
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []


def test_unknown_provider_is_a_404(api_client: Client, standin: ProviderStandIn) -> None:
    for response in (
        api_client.get(_url("connection", "myspace")),
        api_client.post(_url("connection-authorize", "myspace")),
        api_client.delete(_url("connection", "myspace")),
        api_client.get(_url("connection-callback", "myspace") + "?code=x&state=y"),
    ):
        assert_envelope(response, HTTPStatus.NOT_FOUND, "provider_not_found")


def test_connections_need_authentication(client: Client, standin: ProviderStandIn) -> None:
    assert_envelope(client.get(reverse("api-v1:connections")), 401, "not_authenticated")
    assert_envelope(client.post(_url("connection-authorize", "spotify")), 401, "not_authenticated")


# --- Spotify end to end ---------------------------------------------------------------------


def test_authorize_uses_pkce_s256_with_the_documented_scopes(
    api_client: Client, standin: ProviderStandIn, user: User
) -> None:
    response = api_client.post(_url("connection-authorize", "spotify"))

    body = response.json()
    url = urlsplit(body["authorization_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == standin.base_url + "/spotify-accounts/authorize"
    )
    assert query["client_id"] == "standin-client"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == "http://testserver/api/v1/connections/spotify/callback"
    assert query["scope"] == (
        "user-top-read user-library-read user-follow-read user-read-recently-played"
    )
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
    assert query["state"] == body["state"]
    assert len(body["state"]) >= 43
    state = AuthorizationState.objects.get()
    assert state.user == user
    assert state.state_hash != body["state"]  # only its hash is stored
    assert timedelta(minutes=9) < state.expires_at - timezone.now() <= timedelta(minutes=10)


def test_spotify_connect_then_taste_lists(
    api_client: Client,
    small_library: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    response = _connect(api_client, django_capture_on_commit_callbacks)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "https://app.example.org/connected?provider=spotify&status=ok"
    body = api_client.get(_url("connection", "spotify")).json()
    assert body["status"] == "connected"
    assert body["account"] == {"id": "standin-user", "display_name": "Stand-in User"}
    sync = body["last_sync"]
    assert sync["status"] == "succeeded"
    assert sync["error"] is None
    # 3 saved tracks + 1 album + 2 follows + 2 top tracks + 2 top artists + 3 plays fetched
    assert (sync["phase"], sync["progress"], sync["total"]) == ("done", 13, 13)
    assert sync["counts"] == {
        "like": {
            "track": {"added": 3, "updated": 0, "removed": 0, "unchanged": 0},
            "album": {"added": 1, "updated": 0, "removed": 0, "unchanged": 0},
            "artist": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
        },
        "top": {
            "track": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
            "artist": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
            "genre": {"added": 3, "updated": 0, "removed": 0, "unchanged": 0},
        },
        "played": {"track": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0}},
    }
    likes = api_client.get(reverse("api-v1:my-likes", args=["tracks"])).json()["items"]
    assert sorted(item["item"]["name"] for item in likes) == ["Track 0", "Track 1", "Track 2"]
    top_tracks = api_client.get(reverse("api-v1:my-top", args=["tracks"])).json()["items"]
    assert [(t["rank"], t["item"]["name"]) for t in top_tracks] == [
        (1, "Track 0"),
        (2, "Track 1"),
    ]
    # Artist 0 (rank 1 of 2): indie rock, shoegaze (weight 2 each); Artist 1 (rank 2): shoegaze,
    # synthpop (1 each) -> shoegaze 3, indie rock 2, synthpop 1.
    top_genres = api_client.get(reverse("api-v1:my-top", args=["genres"])).json()["items"]
    assert [(g["rank"], g["item"]["name"]) for g in top_genres] == [
        (1, "shoegaze"),
        (2, "indie rock"),
        (3, "synthpop"),
    ]
    plays = api_client.get(reverse("api-v1:my-played-tracks")).json()["items"]
    assert sorted((p["item"]["name"], p["play_count"]) for p in plays) == [
        ("Track 0", 2),
        ("Track 1", 1),
    ]
    # Catalogue rows by Spotify id, with images and links.
    track = Track.objects.get(spotify_id="trk000000")
    assert track.album is not None
    assert track.album.spotify_id == "alb000000"
    assert track.album.images[0] == {
        "url": "https://i.example/alb000000-640.jpg",
        "width": 640,
        "height": 640,
    }
    assert [a.spotify_id for a in track.artists.all()] == ["art000000"]
    assert sorted(g.name for g in track.artists.get().genres.all()) == ["indie rock", "shoegaze"]
    assert UserLibrary.objects.get(user=user).like_track == 3


def test_callback_answers_json_when_asked(
    api_client: Client, small_library: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    response = _connect(api_client, django_capture_on_commit_callbacks, Accept="application/json")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["provider"] == "spotify"
    assert body["status"] == "ok"
    assert body["connection"]["status"] == "connected"
    assert body["connection"]["account"] == {"id": "standin-user", "display_name": "Stand-in User"}
    assert body["connection"]["last_sync"]["status"] == "queued"


@pytest.mark.parametrize("case", ["forged", "expired", "reused", "other_provider"])
def test_a_bad_state_is_a_400_and_stores_nothing(
    api_client: Client,
    standin: ProviderStandIn,
    case: str,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    started = api_client.post(_url("connection-authorize", "spotify")).json()
    callback = _browser_at_provider(started["authorization_url"])
    if case == "forged":
        callback = callback.replace(started["state"], "forged-state")
    elif case == "expired":
        AuthorizationState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "reused":
        with django_capture_on_commit_callbacks(execute=True):
            assert api_client.get(callback).status_code == HTTPStatus.FOUND
        ProviderConnection.objects.all().delete()
    elif case == "other_provider":
        callback = callback.replace("/spotify/", "/lastfm/")

    response = api_client.get(callback)

    assert_envelope(
        response,
        HTTPStatus.BAD_REQUEST,
        "invalid_state",
        "The authorization state is unknown, expired or already used; start connecting again.",
    )
    assert ProviderConnection.objects.count() == 0


def test_a_declined_authorization_redirects_with_error(
    api_client: Client, standin: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    started = api_client.post(_url("connection-authorize", "spotify")).json()
    callback = _browser_at_provider(started["authorization_url"] + "&deny=1")

    response = api_client.get(callback)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "https://app.example.org/connected?provider=spotify&status=error"
    assert ProviderConnection.objects.count() == 0


def test_a_wrong_pkce_verifier_is_refused_by_the_token_endpoint(
    api_client: Client, standin: ProviderStandIn
) -> None:
    started = api_client.post(_url("connection-authorize", "spotify")).json()
    callback = _browser_at_provider(started["authorization_url"])
    # Another attempt's verifier: the challenge sent to the provider does not match it.
    other = AuthorizationState.objects.get()
    api_client.post(_url("connection-authorize", "spotify"))
    newer = AuthorizationState.objects.exclude(pk=other.pk).get()
    # (The second authorize gave the browser its cookie: the older state is bound to it too.)
    AuthorizationState.objects.filter(pk=other.pk).update(
        code_verifier=newer.code_verifier, browser_hash=newer.browser_hash
    )

    response = api_client.get(callback, headers={"Accept": "application/json"})

    assert_envelope(
        response,
        HTTPStatus.BAD_GATEWAY,
        "provider_callback_failed",
        "Spotify refused the grant (code_verifier was incorrect); authorize again",
    )
    assert ProviderConnection.objects.count() == 0


# --- the diff -------------------------------------------------------------------------------


def test_a_resync_applies_the_diff_and_leaves_other_sources_alone(
    api_client: Client,
    small_library: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # A track the user liked by hand, which Spotify also has saved.
    mine = TrackFactory.create(name="Track 1", spotify_id="trk000001")
    with django_capture_on_commit_callbacks(execute=True):
        taste_edge_set(user=user, kind="track", item=mine, relation="like")
    _connect(api_client, django_capture_on_commit_callbacks)
    library = small_library.spotify.library
    assert ("like", "track", "Track 1", None, None, "manual") in taste_edges(user)
    # At Spotify: Track 0 unsaved, Track 3 saved; the top tracks swap.
    new_track = {**library.saved_tracks[2], "id": "trk000003", "name": "Track 3"}
    library.saved_tracks = [library.saved_tracks[1], library.saved_tracks[2], new_track]
    library.top_tracks = list(reversed(library.top_tracks))

    body = _sync(api_client, django_capture_on_commit_callbacks)

    counts = body["last_sync"]["counts"]
    assert counts["like"]["track"] == {"added": 1, "updated": 0, "removed": 1, "unchanged": 2}
    assert counts["top"]["track"] == {"added": 0, "updated": 2, "removed": 0, "unchanged": 0}
    assert counts["like"]["artist"] == {"added": 0, "updated": 0, "removed": 0, "unchanged": 2}
    likes = {e for e in taste_edges(user) if e[:2] == ("like", "track")}
    assert likes == {
        ("like", "track", "Track 1", None, None, "manual"),  # still the user's own
        ("like", "track", "Track 2", None, None, "spotify"),
        ("like", "track", "Track 3", None, None, "spotify"),
    }
    tops = {e for e in taste_edges(user) if e[:2] == ("top", "track")}
    assert tops == {
        ("top", "track", "Track 1", 1, None, "spotify"),
        ("top", "track", "Track 0", 2, None, "spotify"),
    }


def test_the_same_sync_twice_writes_nothing_the_second_time(
    api_client: Client,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    outbox = ProjectionOutbox.objects.count()
    versions = sorted(EdgeVersion.objects.values_list("item_id", "relation", "version"))
    stamps = sorted(TasteEdge.objects.values_list("pk", "updated_at"))
    catalogue = sorted(Track.objects.values_list("pk", "updated_at"))

    body = _sync(api_client, django_capture_on_commit_callbacks)

    counts = body["last_sync"]["counts"]
    assert {
        outcome
        for kinds in counts.values()
        for c in kinds.values()
        for outcome, n in c.items()
        if n
    } == {"unchanged"}
    assert ProjectionOutbox.objects.count() == outbox
    assert sorted(EdgeVersion.objects.values_list("item_id", "relation", "version")) == versions
    assert sorted(TasteEdge.objects.values_list("pk", "updated_at")) == stamps
    assert sorted(Track.objects.values_list("pk", "updated_at")) == catalogue


def test_disconnect_removes_tokens_and_only_that_providers_edges(
    api_client: Client,
    small_library: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    mine = TrackFactory.create(name="Mine")
    with django_capture_on_commit_callbacks(execute=True):
        taste_edge_set(user=user, kind="track", item=mine, relation="like")
    _connect(api_client, django_capture_on_commit_callbacks)
    spotify_edges = TasteEdge.objects.filter(user=user, source="spotify").count()
    assert spotify_edges == 15
    outbox_before = ProjectionOutbox.objects.filter(operation="delete").count()

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(_url("connection", "spotify"))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert ProviderConnection.objects.count() == 0
    assert taste_edges(user) == {("like", "track", "Mine", None, None, "manual")}
    assert ProjectionOutbox.objects.filter(operation="delete").count() == outbox_before + 15
    library = UserLibrary.objects.get(user=user)
    assert (library.like_track, library.top_track, library.played_track) == (1, 0, 0)
    assert api_client.get(_url("connection", "spotify")).json()["status"] == "available"
    assert_envelope(
        api_client.delete(_url("connection", "spotify")),
        HTTPStatus.NOT_FOUND,
        "connection_not_found",
        "spotify is not connected",
    )


# --- faults ---------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_once_and_the_sync_carries_on(
    api_client: Client,
    small_library: ProviderStandIn,
    connected: ProviderConnection,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    stored = connected.access_token
    small_library.spotify.expire_access_tokens()
    small_library.requests.clear()

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["last_sync"]["status"] == "succeeded"
    token_calls = [p for p in small_library.paths() if p.endswith("/api/token")]
    assert token_calls == ["/spotify-accounts/api/token"]
    assert small_library.paths("/spotify/v1/me/tracks") == ["/spotify/v1/me/tracks"] * 2
    assert ProviderConnection.objects.get().access_token != stored


def _offsets(standin: ProviderStandIn, path: str) -> list[int]:
    """The offset of every request for that path, in the order they came (the first page
    has none: it is 0)."""
    with standin.lock:
        return [int(query.get("offset", 0)) for _, p, query in standin.requests if p == path]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_pages_of_a_large_library_are_each_fetched_once_and_taken_in_order(
    api_client: Client,
    standin: ProviderStandIn,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
    user: User,
    concurrency: int,
) -> None:
    provider_settings_set(settings, "spotify", PAGE_CONCURRENCY=concurrency)
    standin.spotify.library = spotify_library(
        saved_tracks=230, saved_albums=1, followed_artists=1, top_tracks=1, top_artists=1
    )
    _connect(api_client, django_capture_on_commit_callbacks)
    standin.requests.clear()
    standin.peak_in_flight = 0
    standin.latency_seconds = 0.1
    # Exact requests are counted below: no timeout retry on a loaded machine (the fixture's
    # 0.5 s, meant for the timeout tests, was met by four held pages in CI once).
    settings.PROVIDER_TIMEOUT_SECONDS = 5.0

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["counts"]["like"]["track"]["unchanged"] == 230
    assert sorted(_offsets(standin, "/spotify/v1/me/tracks")) == [0, 50, 100, 150, 200]
    # Four pages after the first: side by side up to the setting, one at a time with 1.
    assert standin.peak_in_flight == concurrency
    saved = [track["name"] for track in standin.spotify.library.saved_tracks]
    liked = set(
        TasteEdge.objects.filter(user=user, relation="like", kind="track").values_list(
            "track__name", flat=True
        )
    )
    assert liked == set(saved)
    assert len(liked) == 230


def test_a_token_expiring_while_pages_are_in_flight_is_refreshed_once(
    api_client: Client,
    standin: ProviderStandIn,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    provider_settings_set(settings, "spotify", PAGE_CONCURRENCY=4)
    standin.spotify.library = spotify_library(saved_tracks=250, saved_albums=1, followed_artists=1)
    _connect(api_client, django_capture_on_commit_callbacks)
    standin.requests.clear()
    standin.latency_seconds = 0.1
    # Exact requests are counted below: no timeout retry on a loaded machine (the fixture's
    # 0.5 s, meant for the timeout tests, was met by four held pages in CI once).
    settings.PROVIDER_TIMEOUT_SECONDS = 5.0
    # The first page is answered; the four after it, sent together, meet an expired token.
    standin.spotify.expire_access_tokens(after=1)

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["last_sync"]["status"] == "succeeded"
    token_calls = [p for p in standin.paths() if p.endswith("/api/token")]
    assert token_calls == ["/spotify-accounts/api/token"]
    # Each of the four was refused once and asked again with the new token.
    assert sorted(_offsets(standin, "/spotify/v1/me/tracks")) == [
        0,
        50,
        50,
        100,
        100,
        150,
        150,
        200,
        200,
    ]
    assert TasteEdge.objects.filter(relation="like", kind="track").count() == 250


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        ({"status": 429, "headers": {"Retry-After": "30"}, "body": {"error": {"status": 429}}}, 3),
        ({"status": 503, "body": {"error": {"status": 503, "message": "Service unavailable"}}}, 3),
        ({"status": 200, "delay_seconds": 0.8, "body": {}}, 2),
    ],
    ids=["429-retry-after", "5xx", "timeout"],
)
def test_transient_faults_are_retried(
    api_client: Client,
    small_library: ProviderStandIn,
    connected: ProviderConnection,
    django_capture_on_commit_callbacks: Capture,
    fault: dict[str, Any],
    attempts: int,
) -> None:
    small_library.requests.clear()
    small_library.fault("/me/albums", times=attempts - 1, **fault)

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["last_sync"]["status"] == "succeeded"
    assert small_library.paths("/spotify/v1/me/albums") == ["/spotify/v1/me/albums"] * attempts


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (
            {"status": 502, "body": {"error": {"status": 502, "message": "Bad gateway"}}},
            "Spotify answered 502 after 4 attempts (GET /spotify/v1/me/albums)",
        ),
        (
            {"status": 429, "headers": {"Retry-After": "1"}, "body": {}},
            "Spotify kept rate limiting the requests (429) after 4 attempts "
            "(GET /spotify/v1/me/albums)",
        ),
        (
            {"status": 200, "delay_seconds": 0.7, "body": {}},
            "Spotify did not answer in time after 4 attempts (GET /spotify/v1/me/albums)",
        ),
        (
            {"status": 403, "body": {"error": {"status": 403, "message": "Insufficient scope"}}},
            "Spotify answered 403 on /spotify/v1/me/albums: Insufficient scope",
        ),
    ],
    ids=["5xx", "429", "timeout", "403"],
)
def test_a_persistent_fault_fails_the_sync_and_commits_nothing(
    api_client: Client,
    small_library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    settings: Any,
    fault: dict[str, Any],
    error: str,
) -> None:
    if "delay_seconds" in fault:
        # The timeout is waited out on every attempt: 0.25 s, not the fixture's 0.5 s, is still
        # far under the stand-in's delay and far over its other answers.
        settings.PROVIDER_TIMEOUT_SECONDS = 0.25
    before = taste_edges(user)
    outbox = ProjectionOutbox.objects.count()
    small_library.spotify.library.saved_tracks = []  # would remove three likes, had it completed
    small_library.fault("/me/albums", times=10, **fault)

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["status"] == "connected"
    assert body["last_sync"]["status"] == "failed"
    assert body["last_sync"]["error"] == error
    assert taste_edges(user) == before
    assert ProjectionOutbox.objects.count() == outbox


def test_a_revoked_grant_needs_reauth_and_keeps_the_taste(
    api_client: Client,
    small_library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    before = taste_edges(user)
    small_library.revoke_grants()

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["status"] == "needs_reauth"
    assert body["last_sync"]["status"] == "failed"
    assert body["last_sync"]["error"] == (
        "Spotify refused the grant (Refresh token revoked); authorize again"
    )
    assert taste_edges(user) == before
    assert_envelope(
        api_client.post(_url("connection-sync", "spotify")),
        HTTPStatus.CONFLICT,
        "needs_reauth",
        "spotify needs to be authorized again before it can sync",
    )
    # Authorizing again reconnects.
    response = _connect(api_client, django_capture_on_commit_callbacks)
    assert response["Location"].endswith("status=ok")
    assert ProviderConnection.objects.get().status == ConnectionStatus.CONNECTED


# --- one job per connection, periodic re-sync -----------------------------------------------


def test_a_sync_requested_while_one_runs_answers_the_running_one(
    api_client: Client, connected: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    running = SyncJob.objects.create(
        connection=connected, status=SyncStatus.RUNNING, started_at=timezone.now(), progress=7
    )

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = api_client.post(_url("connection-sync", "spotify"))

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["last_sync"]["status"] == "running"
    assert response.json()["last_sync"]["progress"] == 7
    assert queued == []
    assert SyncJob.objects.filter(connection=connected).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncJob.objects.create(connection=connected, status=SyncStatus.QUEUED)
    running.refresh_from_db()
    assert running.status == SyncStatus.RUNNING


def test_a_lost_job_does_not_block_the_connection(
    api_client: Client, connected: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    lost = SyncJob.objects.create(connection=connected, status=SyncStatus.RUNNING)
    SyncJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=2))

    body = _sync(api_client, django_capture_on_commit_callbacks)

    assert body["last_sync"]["status"] == "succeeded"
    lost.refresh_from_db()
    assert lost.status == SyncStatus.FAILED
    assert lost.error == "The sync was lost: its worker stopped before finishing it."


def test_the_periodic_resync_queues_each_due_connection_once(
    connected: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    assert connections_resync_queue() == 0  # synced just now
    ProviderConnection.objects.update(last_synced_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert connections_resync_queue() == 1
        assert connections_resync_queue() == 0  # its job is still queued: no second one
    assert len(queued) == 1
    assert SyncJob.objects.filter(connection=connected, status=SyncStatus.QUEUED).count() == 1
    for callback in queued:
        callback()
    assert SyncJob.objects.filter(connection=connected).latest("id").status == "succeeded"


# --- Last.fm --------------------------------------------------------------------------------


def test_lastfm_connect_syncs_top_loved_and_recent(
    api_client: Client,
    standin: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    existing = TrackFactory.create(name="Teardrop", lastfm_id=None)
    existing.artists.add(apps.get_model("musicbud", "Artist").objects.create(name="Massive Attack"))
    standin.lastfm.library = LastfmLibrary(
        top_artists=[
            {"name": "Massive Attack", "mbid": "10adbe5e-a2c0-4bf3-8249-2b4cbf6e6ca8"},
            {"name": "Portishead", "mbid": ""},
        ],
        top_tracks=[{"name": "Roads", "mbid": "", "artist": "Portishead"}],
        loved_tracks=[
            {"name": "Teardrop", "mbid": "", "artist": "Massive Attack"},
            {"name": "Roads", "mbid": "", "artist": "Portishead"},
        ],
        recent_tracks=[
            {"name": "Roads", "artist": "Portishead", "album": "Dummy", "uts": "1767300000"},
            {"name": "Glory Box", "artist": "Portishead", "album": "Dummy", "uts": "1767290000"},
            {"name": "Roads", "artist": "Portishead", "album": "Dummy", "uts": "1767280000"},
        ],
        now_playing={"name": "Sour Times", "artist": "Portishead", "album": "Dummy"},
    )

    started = api_client.post(_url("connection-authorize", "lastfm")).json()
    auth_url = urlsplit(started["authorization_url"])
    query = {k: v[0] for k, v in parse_qs(auth_url.query).items()}
    assert query["api_key"] == "standin-lastfm-key"
    assert query["cb"] == (
        f"http://testserver/api/v1/connections/lastfm/callback?state={started['state']}"
    )
    callback = _browser_at_provider(started["authorization_url"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.get(callback)

    assert response["Location"] == "https://app.example.org/connected?provider=lastfm&status=ok"
    body = api_client.get(_url("connection", "lastfm")).json()
    assert body["account"] == {"id": "standin-lastfm", "display_name": "Stand-in Scrobbler"}
    assert body["last_sync"]["status"] == "succeeded"
    assert taste_edges(user) == {
        ("top", "artist", "Massive Attack", 1, None, "lastfm"),
        ("top", "artist", "Portishead", 2, None, "lastfm"),
        ("top", "track", "Roads", 1, None, "lastfm"),
        ("like", "track", "Teardrop", None, None, "lastfm"),
        ("like", "track", "Roads", None, None, "lastfm"),
        ("played", "track", "Roads", None, 2, "lastfm"),
        ("played", "track", "Glory Box", None, 1, "lastfm"),
    }
    # Matched by name + artist: the existing Teardrop, not a new one.
    assert Track.objects.filter(name="Teardrop").count() == 1
    assert TasteEdge.objects.get(relation="like", track__name="Teardrop").track_id == existing.pk
    assert Track.objects.filter(name="Roads").count() == 1
    played = TasteEdge.objects.get(relation="played", track__name="Roads")
    assert played.last_played_at is not None
    assert int(played.last_played_at.timestamp()) == 1767300000
    artist = apps.get_model("musicbud", "Artist").objects.get(name="Massive Attack")
    assert artist.lastfm_id == "10adbe5e-a2c0-4bf3-8249-2b4cbf6e6ca8"


def test_lastfm_session_request_is_signed(
    api_client: Client, standin: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    standin.lastfm.api_secret = "another-secret-than-ours-0123456"

    response = _connect(
        api_client, django_capture_on_commit_callbacks, "lastfm", Accept="application/json"
    )

    assert_envelope(
        response,
        HTTPStatus.BAD_GATEWAY,
        "provider_callback_failed",
        "Last.fm answered error 13: Invalid method signature supplied",
    )


# --- no token anywhere ----------------------------------------------------------------------


def test_no_token_in_any_answer_log_line_or_database_row(
    api_client: Client,
    small_library: ProviderStandIn,
    json_logs: Callable[[], list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    small_library.spotify.library.followed_artists.append(spotify_artist(99))
    answers = [_connect(api_client, django_capture_on_commit_callbacks)]
    small_library.spotify.expire_access_tokens()  # a refresh, so refreshed tokens are stored too
    with django_capture_on_commit_callbacks(execute=True):
        answers.append(api_client.post(_url("connection-sync", "spotify")))
    answers.append(api_client.get(reverse("api-v1:connections")))
    answers.append(api_client.get(_url("connection", "spotify")))
    small_library.revoke_grants()
    with django_capture_on_commit_callbacks(execute=True):
        answers.append(api_client.post(_url("connection-sync", "spotify")))
    # Last.fm: its session key travels in query strings.
    small_library.lastfm.library = LastfmLibrary(top_artists=[{"name": "Portishead", "mbid": ""}])
    answers.append(_connect(api_client, django_capture_on_commit_callbacks, "lastfm"))
    answers.append(api_client.get(_url("connection", "lastfm")))
    assert ProviderConnection.objects.get(provider="lastfm").status == "connected"
    secrets_issued = small_library.issued_secrets() | {
        small_library.spotify.client_secret,
        small_library.lastfm.api_secret,
    }
    assert len(secrets_issued) >= 6

    texts = [answer.content.decode() + str(answer.headers) for answer in answers]
    texts += [str(line) for line in json_logs()]
    for model in apps.get_models():
        for row in model._default_manager.values_list():
            texts.append(repr(row))
    leaked = {secret for secret in secrets_issued for text in texts if secret in text}

    assert leaked == set()
    connection = ProviderConnection.objects.get(provider="spotify")
    assert connection.access_token.startswith("gAAAAA")  # a Fernet token
    assert connection.refresh_token.startswith("gAAAAA")


# --- the embedded runner --------------------------------------------------------------------


def _job_finished(job_id: int) -> SyncJob:
    deadline = time.monotonic() + 15
    while True:
        job = SyncJob.objects.get(pk=job_id)
        if job.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.05)


def test_with_the_embedded_runner_the_callback_and_a_sync_answer_before_the_sync_runs(
    transactional_db: None, small_library: ProviderStandIn, settings: Any
) -> None:
    # No broker configured (make run): the embedded runner's thread takes the job once the
    # request that queued it has answered.
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    settings.TASK_EAGER_IN_BACKGROUND = True
    client = Client()
    client.force_login(UserFactory.create())
    started = client.post(_url("connection-authorize", "spotify")).json()
    # The sync's last call to Spotify waits until released: the job is still running.
    plays = small_library.hold("/me/player/recently-played", timeout_seconds=15)
    try:
        callback = client.get(
            _browser_at_provider(started["authorization_url"]), HTTP_ACCEPT="application/json"
        )

        assert callback.status_code == HTTPStatus.OK
        first = callback.json()["connection"]["last_sync"]
        assert {key: first[key] for key in ("status", "phase", "progress", "total")} == {
            "status": "queued",
            "phase": "waiting",
            "progress": 0,
            "total": None,
        }
        assert plays.arrived.wait(15)
        # Meanwhile the sync is fetching: every list before the plays stated its size.
        response = client.post(_url("connection-sync", "spotify"))
        assert response.status_code == HTTPStatus.ACCEPTED
        running = response.json()["last_sync"]
        assert (running["status"], running["phase"]) == ("running", "fetching")
        assert (running["progress"], running["total"]) == (10, 10)
    finally:
        plays.release()
    job = _job_finished(SyncJob.objects.get().pk)
    assert (job.status, job.phase, job.progress, job.total) == ("succeeded", "done", 13, 13)

    small_library.spotify.library.saved_tracks = small_library.spotify.library.saved_tracks[:1]
    response = client.post(_url("connection-sync", "spotify"))

    # Answered with the job as queued, never as it ended; the runner then runs it.
    assert response.status_code == HTTPStatus.ACCEPTED
    queued = response.json()["last_sync"]
    assert (queued["status"], queued["phase"], queued["counts"]) == ("queued", "waiting", {})
    job = _job_finished(SyncJob.objects.latest("id").pk)
    assert job.status == SyncStatus.SUCCEEDED
    assert job.counts["like"]["track"] == {"added": 0, "updated": 0, "removed": 2, "unchanged": 1}
    assert SyncJob.objects.filter(status="succeeded").count() == 2


def test_with_the_sync_run_in_the_request_a_sync_still_answers_as_queued(
    transactional_db: None, small_library: ProviderStandIn, settings: Any
) -> None:
    # TASK_EAGER_IN_BACKGROUND=false: Celery's eager mode runs the job inside the request,
    # after commit; the answer is still the job as it was queued.
    settings.TASK_EAGER_IN_BACKGROUND = False
    client = Client()
    client.force_login(UserFactory.create())
    started = client.post(_url("connection-authorize", "spotify")).json()
    client.get(_browser_at_provider(started["authorization_url"]))

    response = client.post(_url("connection-sync", "spotify"))

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["last_sync"]["status"] == "queued"
    assert SyncJob.objects.latest("id").status == SyncStatus.SUCCEEDED  # run before answering


def test_lastfm_faults_a_revoked_session_and_a_5xx(
    api_client: Client,
    standin: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    standin.lastfm.library = LastfmLibrary(
        top_artists=[{"name": "Portishead", "mbid": ""}],
        loved_tracks=[{"name": "Roads", "mbid": "", "artist": "Portishead"}],
    )
    _connect(api_client, django_capture_on_commit_callbacks, "lastfm")
    before = taste_edges(user)
    assert len(before) == 2
    standin.fault("/", status=503, body={"error": 16, "message": "Try again"}, times=10)

    body = _sync(api_client, django_capture_on_commit_callbacks, "lastfm")

    assert body["status"] == "connected"
    assert body["last_sync"]["error"] == (
        "Last.fm answered 503 after 4 attempts (GET /lastfm/2.0/)"
    )
    standin.faults.clear()
    standin.revoke_grants()

    body = _sync(api_client, django_capture_on_commit_callbacks, "lastfm")

    assert body["status"] == "needs_reauth"
    assert body["last_sync"]["error"] == (
        "Last.fm refused the session (Invalid session key - Please re-authenticate); "
        "authorize again"
    )
    assert taste_edges(user) == before


# --- a like by hand is the user's own ----------------------------------------------------


def test_a_like_by_hand_on_an_item_a_sync_brought_is_the_users_own_and_survives_disconnect(
    api_client: Client,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    track = Track.objects.get(name="Track 0")
    assert ("like", "track", "Track 0", None, None, "spotify") in taste_edges(user)
    version = EdgeVersion.objects.filter(
        user_id=user.pk, relation="like", kind="track", item_id=track.pk
    )
    before = version.get().version
    outbox = ProjectionOutbox.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        liked = api_client.put(reverse("api-v1:my-like", args=["tracks", track.public_id]))

    assert liked.status_code == HTTPStatus.OK, liked.content  # liked already: not a new like
    assert ("like", "track", "Track 0", None, None, "manual") in taste_edges(user)
    # Taking the edge over is a write like any other (its version, an outbox row).
    assert version.get().version == before + 1
    assert ProjectionOutbox.objects.count() == outbox + 1
    # Liked again by hand: nothing left to change, nothing written.
    with django_capture_on_commit_callbacks(execute=True):
        again = api_client.put(reverse("api-v1:my-like", args=["tracks", track.public_id]))
    assert again.status_code == HTTPStatus.OK
    assert ProjectionOutbox.objects.count() == outbox + 1

    # The next sync (Spotify still has it saved) does not take it back.
    body = _sync(api_client, django_capture_on_commit_callbacks)
    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["counts"]["like"]["track"] == {
        "added": 0,
        "updated": 0,
        "removed": 0,
        "unchanged": 3,
    }
    assert ("like", "track", "Track 0", None, None, "manual") in taste_edges(user)

    with django_capture_on_commit_callbacks(execute=True):
        gone = api_client.delete(_url("connection", "spotify"))

    assert gone.status_code == HTTPStatus.NO_CONTENT
    assert taste_edges(user) == {("like", "track", "Track 0", None, None, "manual")}
    library = UserLibrary.objects.get(user=user)
    assert (library.like_track, library.top_track, library.played_track) == (1, 0, 0)


# --- the authorization is bound to the browser that started it -----------------------------


def test_authorize_sets_a_cookie_for_the_callback_only(
    api_client: Client, standin: ProviderStandIn
) -> None:
    response = api_client.post(_url("connection-authorize", "spotify"))

    assert response.status_code == HTTPStatus.OK
    cookie = response.cookies["musicbud_connect_spotify"]
    assert len(cookie.value) == 43  # 32 random bytes, urlsafe base64
    assert cookie.value not in response.content.decode()
    assert cookie["path"] == "/api/v1/connections/spotify/callback"
    assert cookie["max-age"] == 600
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] == ""  # Secure where sessions are (production), not in tests
    state = AuthorizationState.objects.get()
    assert state.browser_hash == hashlib.sha256(cookie.value.encode()).hexdigest()


def test_a_callback_in_another_browser_is_refused_and_spends_the_state(
    api_client: Client, standin: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    """The attacker starts connecting on their own account and sends the victim the link:
    the victim's browser, at the provider, grants access and comes back without the
    attacker's cookie."""
    started = api_client.post(_url("connection-authorize", "spotify")).json()
    callback = _browser_at_provider(started["authorization_url"])
    victim = Client()

    with django_capture_on_commit_callbacks(execute=True):
        refused = victim.get(callback)

    assert_envelope(
        refused,
        HTTPStatus.BAD_REQUEST,
        "authorization_other_browser",
        "This authorization was started in another browser (or its cookie is gone): start "
        "connecting again from this browser.",
    )
    assert ProviderConnection.objects.count() == 0
    assert AuthorizationState.objects.count() == 0  # spent: it works nowhere now
    assert standin.paths() == ["/spotify-accounts/authorize"]  # no code exchanged
    # A wrong cookie is no better than none.
    api_client.cookies["musicbud_connect_spotify"] = "x" * 43
    started = api_client.post(_url("connection-authorize", "spotify")).json()
    victim.cookies["musicbud_connect_spotify"] = "y" * 43
    assert victim.get(_browser_at_provider(started["authorization_url"])).status_code == 400
    assert ProviderConnection.objects.count() == 0


def test_the_callback_clears_the_spent_cookie(
    api_client: Client, small_library: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    response = _connect(api_client, django_capture_on_commit_callbacks)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("?provider=spotify&status=ok")
    cleared = response.cookies["musicbud_connect_spotify"]
    assert (cleared.value, cleared["max-age"], cleared["path"]) == (
        "",
        0,
        "/api/v1/connections/spotify/callback",
    )


# --- lost jobs and failing connections ------------------------------------------------------


def test_a_redelivered_message_restarts_its_running_job_and_writes_nothing_twice(
    connected: ProviderConnection, user: User
) -> None:
    """Its worker died mid-sync; the broker hands the message to another worker."""
    before = taste_edges(user)
    outbox = ProjectionOutbox.objects.count()
    fetched = SyncJob.objects.get().progress
    job = SyncJob.objects.create(
        connection=connected, status=SyncStatus.RUNNING, started_at=timezone.now(), progress=4
    )

    connection_sync_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.error, job.progress) == (SyncStatus.SUCCEEDED, "", fetched)
    assert job.counts["like"]["track"] == {"added": 0, "updated": 0, "removed": 0, "unchanged": 3}
    assert job.heartbeat_at is not None
    assert job.finished_at is not None
    assert taste_edges(user) == before
    assert ProjectionOutbox.objects.count() == outbox
    # A finished job's message, redelivered, runs nothing.
    finished_at = job.finished_at
    connection_sync_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.finished_at == finished_at


def test_a_failing_connection_backs_off_and_a_success_resets_it(
    small_library: ProviderStandIn,
    connected: ProviderConnection,
    django_capture_on_commit_callbacks: Capture,
    settings: Any,
) -> None:
    settings.CONNECTION_SYNC_RETRY_BASE_SECONDS = 300
    settings.CONNECTION_SYNC_RETRY_MAX_SECONDS = 1000
    small_library.fault("/me/albums", times=1000, status=502, body={})
    ProviderConnection.objects.update(last_synced_at=timezone.now() - timedelta(days=2))

    def scheduler_run() -> int:
        """The periodic re-sync; the job it queues runs (and fails) at once."""
        with django_capture_on_commit_callbacks(execute=True):
            return connections_resync_queue()

    def wait() -> float:
        connected.refresh_from_db()
        assert connected.sync_retry_at is not None
        return round((connected.sync_retry_at - timezone.now()).total_seconds(), -1)

    assert scheduler_run() == 1
    assert wait() == 0  # after one failure, the next run tries again
    assert scheduler_run() == 1
    assert wait() == 300
    for expected in (600, 1000, 1000):  # doubling, capped
        assert scheduler_run() == 0  # held back until then
        ProviderConnection.objects.update(sync_retry_at=timezone.now() - timedelta(seconds=1))
        assert scheduler_run() == 1
        assert wait() == expected
    connected.refresh_from_db()
    assert connected.sync_failures == 5
    assert (
        list(SyncJob.objects.filter(connection=connected).order_by("id").values_list("status"))
        == [("succeeded",)] + [("failed",)] * 5
    )

    with small_library.lock:
        small_library.faults.clear()
    ProviderConnection.objects.update(sync_retry_at=timezone.now() - timedelta(seconds=1))
    assert scheduler_run() == 1

    connected.refresh_from_db()
    assert SyncJob.objects.filter(connection=connected).latest("id").status == "succeeded"
    assert (connected.sync_failures, connected.sync_retry_at) == (0, None)
