"""The Spotify client against Spotify's recorded answers: parsing, paging, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from musicbud.connections.providers.spotify import SpotifyProvider
from tests.fixtures.recorded import Recorded, RecordedAnswers
from tooling.standins.server import StandInServer

TOKENS = TokenSet(access_token="at", refresh_token="rt")


def _summary(items: list[ProviderItem]) -> list[tuple[object, ...]]:
    return [
        (i.relation, i.entry.kind, i.entry.name, i.entry.provider_id, i.rank, i.play_count)
        for i in items
    ]


def _record_library(answers: RecordedAnswers) -> None:
    answers.on(
        "GET /v1/me/tracks",
        Recorded("saved_tracks_page_1.json"),
        Recorded("saved_tracks_page_2.json"),
    )
    answers.on("GET /v1/me/albums", Recorded("empty_page.json"))
    answers.on(
        "GET /v1/me/following",
        Recorded("followed_artists_page_1.json"),
        Recorded("followed_artists_page_2.json"),
    )
    answers.on("GET /v1/me/top/tracks", Recorded("top_tracks.json"))
    answers.on("GET /v1/me/top/artists", Recorded("top_artists.json"))
    answers.on("GET /v1/me/player/recently-played", Recorded("recently_played.json"))


def test_the_taste_is_every_page_of_every_list_parsed(
    spotify_answers: RecordedAnswers, server: StandInServer
) -> None:
    _record_library(spotify_answers)
    session = ProviderSession(tokens=TOKENS)

    with SpotifyProvider() as provider:
        items = list(provider.taste_fetch(session=session))

    assert _summary(items) == [
        ("like", "track", "Paranoid Android", "3SVAN3BRByDmHOhKyIDxfC", None, None),
        ("like", "track", "Everlong", "5FZxsHWIvUsmSK1IAvm2pp", None, None),
        ("like", "artist", "Radiohead", "4Z8W4fKeB5YxbusRsdQVPb", None, None),
        ("like", "artist", "David Bowie", "0oSGxfWSnnOXhD2fKuz2Gy", None, None),
        ("top", "track", "Everlong", "5FZxsHWIvUsmSK1IAvm2pp", 1, None),
        ("top", "artist", "David Bowie", "0oSGxfWSnnOXhD2fKuz2Gy", 1, None),
        ("top", "artist", "Radiohead", "4Z8W4fKeB5YxbusRsdQVPb", 2, None),
        # Genres by weight: Bowie (rank 1 of 2) gives 2, Radiohead 1.
        ("top", "genre", "art rock", None, 1, None),
        ("top", "genre", "glam rock", None, 2, None),
        ("top", "genre", "alternative rock", None, 3, None),
        ("played", "track", "Everlong", "5FZxsHWIvUsmSK1IAvm2pp", None, 2),
        ("played", "track", "Paranoid Android", "3SVAN3BRByDmHOhKyIDxfC", None, 1),
    ]
    radiohead = CatalogueEntry(
        kind="artist", name="Radiohead", provider_id="4Z8W4fKeB5YxbusRsdQVPb"
    )
    assert items[0].entry == CatalogueEntry(
        kind="track",
        name="Paranoid Android",
        provider_id="3SVAN3BRByDmHOhKyIDxfC",
        artists=(radiohead,),
        album=CatalogueEntry(
            kind="album",
            name="OK Computer",
            provider_id="6dVIqQ8qmQ5GBnJ9shOYGE",
            artists=(radiohead,),
            images=(
                Image("https://i.scdn.co/image/ok-640", 640, 640),
                Image("https://i.scdn.co/image/ok-64", 64, 64),
            ),
            release_year=1997,
        ),
        duration_ms=284000,
    )
    assert items[-2].last_played_at == datetime(2026, 11, 30, 12, 8, tzinfo=UTC)
    # The saved track without a track object (removed from Spotify) counted, not kept.
    assert session.fetched == 3 + 0 + 2 + 1 + 2 + 3
    follows = [q.get("after") for _, path, q in server.requests if path == "/v1/me/following"]
    assert follows == [None, "4Z8W4fKeB5YxbusRsdQVPb"]
    offsets = [q.get("offset") for _, path, q in server.requests if path == "/v1/me/tracks"]
    assert offsets == [None, "2"]
    assert spotify_answers.unanswered() == {}


def test_an_expired_access_token_is_refreshed_once_and_the_call_repeated(
    spotify_answers: RecordedAnswers,
) -> None:
    spotify_answers.on(
        "GET /v1/me", Recorded("expired_token.json", status=401), Recorded("me.json")
    )
    spotify_answers.on("POST /accounts/api/token", Recorded("token_refreshed.json"))
    session = ProviderSession(tokens=TOKENS)

    with SpotifyProvider() as provider:
        account = provider.account_read(session=session)

    assert account == Account(id="ada.l", display_name="Ada")
    assert session.refreshed is True
    assert session.tokens.access_token == "BQDrecorded-refreshed-access-token"
    # The refresh answer named no new refresh token: the old one stays valid.
    assert session.tokens.refresh_token == "rt"


def test_the_code_exchange_reads_the_token_answer(spotify_answers: RecordedAnswers) -> None:
    spotify_answers.on("POST /accounts/api/token", Recorded("token.json"))
    before = datetime.now(UTC)

    with SpotifyProvider() as provider:
        tokens = provider.code_exchange(grant="code", code_verifier="verifier")

    assert (tokens.access_token, tokens.refresh_token) == (
        "BQDrecorded-access-token",
        "AQDrecorded-refresh-token",
    )
    assert (
        tokens.scope == "user-top-read user-library-read user-follow-read user-read-recently-played"
    )
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=3600) <= tokens.expires_at
    assert tokens.expires_at <= datetime.now(UTC) + timedelta(seconds=3600)


def test_a_refused_refresh_means_authorize_again(spotify_answers: RecordedAnswers) -> None:
    spotify_answers.on("POST /accounts/api/token", Recorded("token_invalid_grant.json", status=400))

    with SpotifyProvider() as provider, pytest.raises(ProviderAuthRevoked) as refused:
        provider.token_refresh(tokens=TOKENS)

    assert refused.value.message == (
        "Spotify refused the grant (Refresh token revoked); authorize again"
    )


def test_other_token_errors_are_rejections_naming_the_error(
    spotify_answers: RecordedAnswers,
) -> None:
    spotify_answers.on(
        "POST /accounts/api/token", Recorded("token_invalid_client.json", status=400)
    )

    with SpotifyProvider() as provider, pytest.raises(ProviderRejected) as rejected:
        provider.code_exchange(grant="code", code_verifier="verifier")

    assert rejected.value.message == "Spotify's token endpoint answered 400 (invalid_client)"


def test_a_429_is_retried_after_its_retry_after(
    spotify_answers: RecordedAnswers, server: StandInServer
) -> None:
    limited = Recorded("rate_limited.json", status=429, headers={"Retry-After": "1"})
    spotify_answers.on("GET /v1/me", limited, Recorded("me.json"))

    with SpotifyProvider() as provider:
        account = provider.account_read(session=ProviderSession(tokens=TOKENS))

    assert account == Account(id="ada.l", display_name="Ada")
    assert server.paths("/v1/me") == ["/v1/me", "/v1/me"]


def test_429s_past_the_retries_make_the_provider_unavailable(
    spotify_answers: RecordedAnswers, server: StandInServer
) -> None:
    limited = Recorded("rate_limited.json", status=429, headers={"Retry-After": "0"})
    spotify_answers.on("GET /v1/me", *[limited] * 4)

    with SpotifyProvider() as provider, pytest.raises(ProviderUnavailable) as unavailable:
        provider.account_read(session=ProviderSession(tokens=TOKENS))

    assert unavailable.value.message == (
        "Spotify kept rate limiting the requests (429) after 4 attempts (GET /v1/me)"
    )
    assert len(server.paths("/v1/me")) == 4


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>Bad gateway</html>", "Spotify sent an answer that is not JSON (HTTP 200)"),
        (b'{"items": "none", "next": null}', "Spotify sent a page without items (/me/tracks)"),
        (
            b'{"items": [], "next": "https://elsewhere.example/v1/me/tracks?offset=50"}',
            "Spotify sent a next page outside its API (/me/tracks)",
        ),
        (
            b'{"items": [{"track": {"id": 7}}], "next": null}',
            "Spotify sent an item of /me/tracks that does not parse (track.id: Input should be "
            "a valid string)",
        ),
    ],
)
def test_an_answer_that_does_not_parse_is_named(
    spotify_answers: RecordedAnswers, raw: bytes, message: str
) -> None:
    spotify_answers.on("GET /v1/me/tracks", Recorded(raw=raw))

    with SpotifyProvider() as provider, pytest.raises(ProviderBadResponse) as bad:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert bad.value.message == message


def test_each_list_states_its_size_before_its_items_are_counted(
    spotify_answers: RecordedAnswers, server: StandInServer
) -> None:
    _record_library(spotify_answers)
    session = ProviderSession(tokens=TOKENS)
    seen: list[tuple[int, int]] = []
    session.on_progress = lambda fetched: seen.append((fetched, session.expected))

    with SpotifyProvider() as provider:
        list(provider.taste_fetch(session=session))

    # (fetched, stated) at each report: a list's total comes with its first page, before its
    # items count (saved tracks 3, saved albums 0, followed artists 2, top tracks 1, top
    # artists 2); the recently played (a cursor page without a total) only count.
    assert seen == [
        (0, 3),
        (2, 3),
        (3, 3),
        (3, 3),
        (3, 3),
        (3, 5),
        (4, 5),
        (5, 5),
        (5, 6),
        (6, 6),
        (6, 8),
        (8, 8),
        (11, 8),
    ]
