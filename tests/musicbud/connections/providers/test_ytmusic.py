"""The YouTube Music client against Google's recorded answers: authorization, token grants,
paging by ``nextPageToken``, the Music category, " - Topic", quota errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from musicbud.connections.providers.base import (
    Account,
    CatalogueEntry,
    Image,
    ProviderItem,
    ProviderSession,
    TokenSet,
)
from musicbud.connections.providers.errors import (
    ProviderAuthRevoked,
    ProviderBadResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from musicbud.connections.providers.ytmusic import YtmusicProvider, artist_name
from tests.fixtures.providers import provider_settings_set
from tests.fixtures.recorded import Recorded, RecordedAnswers
from tooling.standins.server import StandInServer

TOKENS = TokenSet(access_token="at", refresh_token="rt")


@pytest.fixture
def answers(server: StandInServer, settings: Any) -> RecordedAnswers:
    recorded = server.mount(RecordedAnswers("ytmusic"))
    recorded.api_path = "/youtube/v3"
    provider_settings_set(
        settings,
        "ytmusic",
        CLIENT_ID="client-id.apps.googleusercontent.com",
        CLIENT_SECRET="client-secret",
        REDIRECT_URI="http://testserver/callback",
        AUTH_URL=server.base_url + "/o/oauth2/v2/auth",
        TOKEN_URL=server.base_url + "/token",
        API_URL=server.base_url + "/youtube/v3",
    )
    return recorded


def _summary(items: list[ProviderItem]) -> list[tuple[object, ...]]:
    return [(i.relation, i.entry.kind, i.entry.name, i.entry.provider_id) for i in items]


def test_the_authorization_url_asks_for_offline_read_access_with_s256(
    answers: RecordedAnswers,
) -> None:
    with YtmusicProvider() as provider:
        start = provider.authorization_start(state="st4te")

    url = urlsplit(start.url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert url.path == "/o/oauth2/v2/auth"
    challenge = query.pop("code_challenge")
    assert query == {
        "client_id": "client-id.apps.googleusercontent.com",
        "redirect_uri": "http://testserver/callback",
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/youtube.readonly",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": "st4te",
        "code_challenge_method": "S256",
    }
    assert len(start.code_verifier) >= 43
    assert challenge != start.code_verifier
    assert len(challenge) == 43


def test_the_code_exchange_sends_the_verifier_and_client_and_reads_the_tokens(
    answers: RecordedAnswers, server: StandInServer
) -> None:
    answers.on("POST /token", Recorded("token.json"))
    before = datetime.now(UTC)

    with YtmusicProvider() as provider:
        tokens = provider.code_exchange(grant="4/code", code_verifier="verifier")

    assert (tokens.access_token, tokens.refresh_token, tokens.scope) == (
        "ya29.recorded-access-token",
        "1//recorded-refresh-token",
        "https://www.googleapis.com/auth/youtube.readonly",
    )
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=3599) <= tokens.expires_at
    assert tokens.expires_at <= datetime.now(UTC) + timedelta(seconds=3599)
    assert server.paths() == ["/token"]


def test_an_expired_access_token_is_refreshed_once_and_the_refresh_token_kept(
    answers: RecordedAnswers,
) -> None:
    answers.on(
        "GET /youtube/v3/channels",
        Recorded("expired_token.json", status=401),
        Recorded("channels.json"),
    )
    answers.on("POST /token", Recorded("token_refreshed.json"))
    session = ProviderSession(tokens=TOKENS)

    with YtmusicProvider() as provider:
        account = provider.account_read(session=session)

    assert account == Account(id="UCada0000000000000000001", display_name="Ada Lovelace")
    assert session.refreshed is True
    assert session.tokens.access_token == "ya29.recorded-refreshed-access-token"
    # Google's refresh answer names no refresh token: the old one stays valid.
    assert session.tokens.refresh_token == "rt"
    assert answers.unanswered() == {}


def test_a_refused_refresh_means_authorize_again(answers: RecordedAnswers) -> None:
    answers.on("POST /token", Recorded("token_invalid_grant.json", status=400))

    with YtmusicProvider() as provider, pytest.raises(ProviderAuthRevoked) as refused:
        provider.token_refresh(tokens=TOKENS)

    assert refused.value.message == (
        "Google refused the grant (Token has been expired or revoked.); authorize again"
    )


def test_an_unknown_client_is_a_rejection_not_a_revoked_grant(answers: RecordedAnswers) -> None:
    answers.on("POST /token", Recorded("token_invalid_client.json", status=401))

    with YtmusicProvider() as provider, pytest.raises(ProviderRejected) as rejected:
        provider.code_exchange(grant="4/code", code_verifier="v")

    assert rejected.value.message == "Google's token endpoint answered 401 (invalid_client)"


def test_the_taste_is_music_likes_and_subscriptions_every_page_followed(
    answers: RecordedAnswers, server: StandInServer
) -> None:
    answers.on(
        "GET /youtube/v3/videos",
        Recorded("liked_videos_page_1.json"),
        Recorded("liked_videos_page_2.json"),
    )
    answers.on("GET /youtube/v3/subscriptions", Recorded("subscriptions.json"))
    session = ProviderSession(tokens=TOKENS)

    with YtmusicProvider() as provider:
        items = list(provider.taste_fetch(session=session))

    # The cooking video (category 26) is not a track; " - Topic" is no part of a name.
    assert _summary(items) == [
        ("like", "track", "Never Gonna Give You Up", "dQw4w9WgXcQ"),
        ("like", "track", "Bohemian Rhapsody", "fJ9rUzIMcZQ"),
        ("like", "artist", "Rick Astley", "UCuAXFkgsw1L7xaCfnd5JJOw"),
        ("like", "artist", "Björk", "UCvTEm0YjGzFJwq1dCeBpK1w"),
    ]
    assert items[0].entry == CatalogueEntry(
        kind="track",
        name="Never Gonna Give You Up",
        provider_id="dQw4w9WgXcQ",
        artists=(
            CatalogueEntry(
                kind="artist", name="Rick Astley", provider_id="UCuAXFkgsw1L7xaCfnd5JJOw"
            ),
        ),
        images=(
            Image("https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg", 480, 360),
            Image("https://i.ytimg.com/vi/dQw4w9WgXcQ/mqdefault.jpg", 320, 180),
            Image("https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg", 120, 90),
        ),
    )
    assert items[1].entry.artists[0].name == "Queen Official"
    assert session.fetched == 2 + 1 + 2
    # Each list's first page stated its size (3 liked videos, 2 subscriptions).
    assert session.expected == 3 + 2
    videos = [q for _, path, q in server.requests if path == "/youtube/v3/videos"]
    assert videos == [
        {"myRating": "like", "part": "snippet", "maxResults": "50"},
        {"myRating": "like", "part": "snippet", "maxResults": "50", "pageToken": "CAIQAA"},
    ]
    subscriptions = [q for _, path, q in server.requests if path == "/youtube/v3/subscriptions"]
    assert subscriptions == [{"mine": "true", "part": "snippet", "maxResults": "50"}]
    assert answers.unanswered() == {}


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [("quota_exceeded.json", "quotaExceeded"), ("rate_limit_exceeded.json", "rateLimitExceeded")],
)
def test_quota_and_rate_limit_errors_mean_try_later_not_reauthorize(
    answers: RecordedAnswers, fixture: str, reason: str
) -> None:
    answers.on("GET /youtube/v3/videos", Recorded(fixture, status=403))

    with YtmusicProvider() as provider, pytest.raises(ProviderUnavailable) as later:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert later.value.message == (
        f"YouTube's API is over its quota for now ({reason}); the sync will be tried again later"
    )
    assert not isinstance(later.value, ProviderAuthRevoked)


def test_another_403_is_a_rejection_naming_its_reason(answers: RecordedAnswers) -> None:
    answers.on("GET /youtube/v3/videos", Recorded("forbidden.json", status=403))

    with YtmusicProvider() as provider, pytest.raises(ProviderRejected) as rejected:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert rejected.value.message == (
        "YouTube answered 403 on /youtube/v3/videos (forbidden): "
        "The caller does not have permission"
    )


def test_a_page_token_seen_before_stops_the_walk(answers: RecordedAnswers) -> None:
    answers.on(
        "GET /youtube/v3/videos",
        Recorded("liked_videos_page_1.json"),
        Recorded("liked_videos_page_1.json"),
    )

    with YtmusicProvider() as provider, pytest.raises(ProviderBadResponse) as loops:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert loops.value.message == "YouTube sent a page token that loops (/videos)"


def test_the_topic_suffix_is_no_part_of_an_artist_name() -> None:
    assert artist_name("Daft Punk - Topic") == "Daft Punk"
    assert artist_name("Topic") == "Topic"


def test_a_page_that_is_not_json_is_a_bad_response(answers: RecordedAnswers) -> None:
    answers.on("GET /youtube/v3/videos", Recorded(raw=b"<html>oops</html>"))

    with YtmusicProvider() as provider, pytest.raises(ProviderBadResponse) as bad:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert bad.value.message == "YouTube Music sent an answer that is not JSON (HTTP 200)"
