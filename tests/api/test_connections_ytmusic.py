"""YouTube Music through HTTP against Google's stand-in: connect (PKCE S256, offline access),
the sync (music likes, subscriptions, pages), token expiry, quota errors, disconnect."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from graph.models import ProjectionOutbox
from musicbud.connections.models import AuthorizationState, ConnectionStatus, ProviderConnection
from musicbud.connections.token_cipher import token_decrypt, token_encrypt
from musicbud.models import Artist, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_set
from tests.api.test_connections import Capture, _browser_at_provider, _connect, _sync, _url
from tests.factories import DEFAULT_PASSWORD, TrackFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.taste import taste_edges
from tooling.standins import ProviderStandIn
from tooling.standins.ytmusic import ytmusic_subscription, ytmusic_video

pytestmark = pytest.mark.django_db

PROVIDER = "ytmusic"


@pytest.fixture
def library(standin: ProviderStandIn) -> ProviderStandIn:
    """Three liked music videos by two Topic channels, one liked cooking video, and two
    subscriptions (one of them to a liked track's channel)."""
    rick = "UCuAXFkgsw1L7xaCfnd5JJOw"
    standin.ytmusic.library.liked_videos = [
        ytmusic_video(1, artist="Rick Astley", channel_id=rick),
        ytmusic_video(2, artist="Rick Astley", channel_id=rick),
        ytmusic_video(3, artist="Kate Bush", channel_id="UCkate0000000000000000000"),
        ytmusic_video(4, artist="Bread Channel", category="26"),
    ]
    standin.ytmusic.library.subscriptions = [
        ytmusic_subscription(1, title="Rick Astley - Topic", channel_id=rick),
        ytmusic_subscription(2, title="Björk", channel_id="UCbjork000000000000000000"),
    ]
    return standin


@pytest.fixture
def connected(
    api_client: Client, library: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> ProviderConnection:
    _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)
    return ProviderConnection.objects.get(provider=PROVIDER)


def test_authorize_sends_the_browser_to_google_with_pkce_s256_and_offline_access(
    api_client: Client, standin: ProviderStandIn
) -> None:
    response = api_client.post(_url("connection-authorize", PROVIDER))

    assert response.status_code == HTTPStatus.OK
    url = urlsplit(response.json()["authorization_url"])
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        standin.base_url + "/google-accounts/o/oauth2/v2/auth"
    )
    assert query["scope"] == "https://www.googleapis.com/auth/youtube.readonly"
    assert (query["access_type"], query["code_challenge_method"]) == ("offline", "S256")
    assert query["redirect_uri"] == "http://testserver/api/v1/connections/ytmusic/callback"
    assert query["state"] == response.json()["state"]


def test_connect_then_the_sync_brings_music_likes_and_subscribed_artists(
    api_client: Client,
    library: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    response = _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "https://app.example.org/connected?provider=ytmusic&status=ok"
    body = api_client.get(_url("connection", PROVIDER)).json()
    assert body["status"] == "connected"
    assert body["account"] == {
        "id": "UCstandin000000000000000",
        "display_name": "Stand-in Listener",
    }
    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["progress"] == 4 + 2  # every liked video fetched, 2 subscriptions
    assert body["last_sync"]["counts"] == {
        "like": {
            "track": {"added": 3, "updated": 0, "removed": 0, "unchanged": 0},
            "artist": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
        }
    }
    assert taste_edges(user) == {
        ("like", "track", "Song 1", None, None, "ytmusic"),
        ("like", "track", "Song 2", None, None, "ytmusic"),
        ("like", "track", "Song 3", None, None, "ytmusic"),
        ("like", "artist", "Rick Astley", None, None, "ytmusic"),
        ("like", "artist", "Björk", None, None, "ytmusic"),
    }
    # Catalogue rows by YouTube ids: the track's artist is its channel, without " - Topic".
    track = Track.objects.get(ytmusic_id="vid00000001")
    assert [(a.name, a.ytmusic_id) for a in track.artists.all()] == [
        ("Rick Astley", "UCuAXFkgsw1L7xaCfnd5JJOw")
    ]
    assert track.images[0] == {
        "url": "https://i.ytimg.example/vid00000001/hq.jpg",
        "width": 480,
        "height": 360,
    }
    assert sorted(Artist.objects.values_list("name", flat=True)) == [
        "Björk",
        "Kate Bush",
        "Rick Astley",
    ]
    assert not Track.objects.filter(name="Song 4").exists()
    # Tokens at rest are encrypted; Google's refresh token is kept.
    connection = ProviderConnection.objects.get()
    assert connection.refresh_token.startswith("gAAAA")
    assert token_decrypt(connection.refresh_token).startswith("1//g-")


def test_every_page_is_followed_through_next_page_token(
    api_client: Client,
    standin: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    standin.ytmusic.library.liked_videos = [ytmusic_video(i) for i in range(120)]
    standin.ytmusic.library.subscriptions = [ytmusic_subscription(i) for i in range(51)]

    _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)

    video_pages = [
        q.get("pageToken") for _, path, q in standin.requests if path == "/youtube/v3/videos"
    ]
    assert len(video_pages) == 3
    assert video_pages[0] is None
    assert len(set(video_pages)) == 3
    assert standin.paths("/youtube/v3/subscriptions") == ["/youtube/v3/subscriptions"] * 2
    assert TasteEdge.objects.filter(user=user, kind="track").count() == 120
    # Artist i's subscription and the Topic channels of the videos (7 of them) are the same.
    assert TasteEdge.objects.filter(user=user, kind="artist").count() == 51


def test_an_expired_access_token_is_refreshed_once_and_the_refresh_token_stays(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    stored_access, stored_refresh = connected.access_token, connected.refresh_token
    library.ytmusic.expire_access_tokens()
    library.requests.clear()

    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["last_sync"]["status"] == "succeeded"
    assert library.paths("/google-oauth2/token") == ["/google-oauth2/token"]
    assert library.paths("/youtube/v3/videos") == ["/youtube/v3/videos"] * 2
    connected.refresh_from_db()
    assert connected.access_token != stored_access
    assert token_decrypt(connected.refresh_token) == token_decrypt(stored_refresh)


@pytest.mark.parametrize("reason", ["quotaExceeded", "rateLimitExceeded"])
def test_an_exhausted_quota_fails_the_sync_for_later_and_keeps_the_connection(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    reason: str,
) -> None:
    before = taste_edges(user)
    outbox = ProjectionOutbox.objects.count()
    library.ytmusic.library.liked_videos = []  # would remove three likes, had it completed
    library.ytmusic.exceed_quota(reason)

    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["status"] == "connected"
    assert body["last_sync"]["status"] == "failed"
    assert body["last_sync"]["error"] == (
        f"YouTube's API is over its quota for now ({reason}); the sync will be tried again later"
    )
    assert taste_edges(user) == before
    assert ProjectionOutbox.objects.count() == outbox
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.CONNECTED
    assert connected.sync_failures == 1
    assert connected.sync_retry_at is not None
    assert connected.sync_retry_at <= timezone.now()  # the first failure: try again at once

    library.ytmusic.exceed_quota(None)
    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["counts"]["like"]["track"]["removed"] == 3
    after = ProviderConnection.objects.get(pk=connected.pk)
    assert (after.sync_failures, after.sync_retry_at) == (0, None)


def test_a_revoked_grant_needs_reauth_and_keeps_the_taste(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    before = taste_edges(user)
    library.revoke_grants()

    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["status"] == "needs_reauth"
    assert body["last_sync"]["error"] == (
        "Google refused the grant (Token has been expired or revoked.); authorize again"
    )
    assert taste_edges(user) == before
    response = _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)
    assert response["Location"].endswith("provider=ytmusic&status=ok")
    assert ProviderConnection.objects.get().status == ConnectionStatus.CONNECTED


def test_a_declined_consent_redirects_with_error_and_stores_nothing(
    api_client: Client, library: ProviderStandIn
) -> None:
    started = api_client.post(_url("connection-authorize", PROVIDER)).json()
    callback = _browser_at_provider(started["authorization_url"] + "&deny=1")

    response = api_client.get(callback)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "https://app.example.org/connected?provider=ytmusic&status=error"
    assert ProviderConnection.objects.count() == 0


def test_a_wrong_pkce_verifier_is_refused_by_googles_token_endpoint(
    api_client: Client, library: ProviderStandIn
) -> None:
    started = api_client.post(_url("connection-authorize", PROVIDER)).json()
    callback = _browser_at_provider(started["authorization_url"])
    # The verifier kept with the state is not the one the challenge was made from.
    AuthorizationState.objects.update(code_verifier=token_encrypt("x" * 64))

    response = api_client.get(callback, headers={"Accept": "application/json"})

    assert_envelope(
        response,
        HTTPStatus.BAD_GATEWAY,
        "provider_callback_failed",
        "Google refused the grant (Invalid code verifier.); authorize again",
    )
    assert ProviderConnection.objects.count() == 0


def test_disconnect_removes_the_tokens_and_only_youtubes_edges(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    mine = TrackFactory.create(name="Mine")
    with django_capture_on_commit_callbacks(execute=True):
        taste_edge_set(user=user, kind="track", item=mine, relation="like")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(_url("connection", PROVIDER))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert ProviderConnection.objects.count() == 0
    assert taste_edges(user) == {("like", "track", "Mine", None, None, "manual")}
    assert api_client.get(_url("connection", PROVIDER)).json()["status"] == "available"


def test_no_token_google_issued_is_in_any_answer_or_row(
    api_client: Client, connected: ProviderConnection, library: ProviderStandIn
) -> None:
    issued = library.issued_secrets()
    answers: list[Any] = [
        api_client.get(_url("connection", PROVIDER)).content,
        api_client.get("/api/v1/connections").content,
    ]
    row = ProviderConnection.objects.filter(provider=PROVIDER).values().get()

    assert issued
    for secret in issued:
        assert all(secret.encode() not in answer for answer in answers)
        assert all(secret not in str(value) for value in row.values())


@pytest.mark.parametrize("already_revoked", [False, True])
def test_deleting_the_account_revokes_the_grant_at_google(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    already_revoked: bool,
) -> None:
    refresh = token_decrypt(connected.refresh_token)
    if already_revoked:  # the person removed the app at Google: its 400 ends nothing
        library.ytmusic.revoke_grants()

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(
            reverse("api-v1:me-delete"),
            {"password": DEFAULT_PASSWORD},
            content_type="application/json",
        )

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert library.ytmusic.revoked == ([] if already_revoked else [refresh])
    assert not User.objects.filter(pk=user.pk).exists()
    assert ProviderConnection.objects.count() == 0
