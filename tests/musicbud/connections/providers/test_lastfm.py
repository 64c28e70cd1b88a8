"""The Last.fm client against Last.fm's recorded answers: parsing, paging, error codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

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
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from musicbud.connections.providers.lastfm import LastfmProvider
from tests.fixtures.recorded import Recorded, RecordedAnswers
from tooling.standins.server import StandInServer

API = "GET /2.0/"
SESSION = ProviderSession(tokens=TokenSet(access_token="session-key"), account_id="ada_l")


def _summary(items: list[ProviderItem]) -> list[tuple[object, ...]]:
    return [
        (i.relation, i.entry.kind, i.entry.name, i.entry.provider_id, i.rank, i.play_count)
        for i in items
    ]


def test_the_taste_is_every_list_parsed_and_paged(
    lastfm_answers: RecordedAnswers, server: StandInServer
) -> None:
    lastfm_answers.on(f"{API} user.getTopArtists", Recorded("top_artists.json"))
    lastfm_answers.on(f"{API} user.getTopTracks", Recorded("top_tracks.json"))
    lastfm_answers.on(
        f"{API} user.getLovedTracks",
        Recorded("loved_tracks_page_1.json"),
        Recorded("loved_tracks_page_2.json"),
    )
    lastfm_answers.on(f"{API} user.getRecentTracks", Recorded("recent_tracks.json"))

    with LastfmProvider() as provider:
        items = list(provider.taste_fetch(session=SESSION))

    portishead = "8f6bd1e4-fbe1-4f50-aa9b-94c450ec0f11"
    assert _summary(items) == [
        ("top", "artist", "Portishead", portishead, 1, None),
        ("top", "artist", "Massive Attack", None, 2, None),
        ("top", "track", "Teardrop", None, 1, None),
        # Page 1 writes its one loved track as an object, not a list.
        ("like", "track", "Roads", None, None, None),
        ("like", "track", "Angel", None, None, None),
        # "Now playing" (Angel) is not a play yet.
        ("played", "track", "Teardrop", None, None, 2),
        ("played", "track", "Roads", None, None, 1),
    ]
    assert items[0].entry.images == (
        Image("https://lastfm.freetls.fastly.net/i/u/174s/portishead.png"),
        Image("https://lastfm.freetls.fastly.net/i/u/34s/portishead.png"),
    )
    massive_attack = CatalogueEntry(kind="artist", name="Massive Attack")
    assert items[5].entry == CatalogueEntry(
        kind="track",
        name="Teardrop",
        artists=(massive_attack,),
        album=CatalogueEntry(kind="album", name="Mezzanine", artists=(massive_attack,)),
    )
    assert items[5].last_played_at == datetime(2025, 11, 30, 12, 8, tzinfo=UTC)
    loved_pages = [
        (q["page"], q["limit"], q["sk"])
        for _, _, q in server.requests
        if q.get("method") == "user.getLovedTracks"
    ]
    assert loved_pages == [("1", "200", "session-key"), ("2", "200", "session-key")]
    assert lastfm_answers.unanswered() == {}


def test_the_session_exchange_is_signed_and_names_the_account(
    lastfm_answers: RecordedAnswers, server: StandInServer
) -> None:
    lastfm_answers.on(f"{API} auth.getSession", Recorded("session.json"))
    lastfm_answers.on(f"{API} user.getInfo", Recorded("user_info.json"))

    with LastfmProvider() as provider:
        tokens = provider.code_exchange(grant="callback-token", code_verifier="")
        account = provider.account_read(
            session=ProviderSession(tokens=tokens, account_id=tokens.account_id)
        )

    assert tokens == TokenSet(access_token="d580d57f32848f5dcf574d1ce18d78b2", account_id="ada_l")
    assert account == Account(id="ada_l", display_name="Ada L")
    signed = "api_keyapi-keymethodauth.getSessiontokencallback-token" + "api-secret"
    exchange = server.requests[0][2]
    assert exchange["api_sig"] == hashlib.md5(signed.encode(), usedforsecurity=False).hexdigest()
    assert exchange["format"] == "json"


@pytest.mark.parametrize(
    ("fixture", "status", "error", "message"),
    [
        (
            "error_invalid_session.json",
            403,
            ProviderAuthRevoked,
            "Last.fm refused the session (Invalid session key - Please re-authenticate); "
            "authorize again",
        ),
        (
            "error_unauthorized_token.json",
            403,
            ProviderAuthRevoked,
            "Last.fm refused the session (Unauthorized Token - This token has not been "
            "authorized); authorize again",
        ),
        (
            "error_temporary.json",
            400,
            ProviderUnavailable,
            "Last.fm is unavailable (There was a temporary error processing your request. "
            "Please try again)",
        ),
        (
            "error_user_not_found.json",
            404,
            ProviderRejected,
            "Last.fm answered error 6: User not found",
        ),
    ],
)
def test_error_codes_map_to_what_the_sync_does_next(
    lastfm_answers: RecordedAnswers,
    fixture: str,
    status: int,
    error: type[ProviderError],
    message: str,
) -> None:
    lastfm_answers.on(f"{API} user.getInfo", Recorded(fixture, status=status))

    with LastfmProvider() as provider, pytest.raises(ProviderError) as raised:
        provider.account_read(session=SESSION)

    assert type(raised.value) is error
    assert raised.value.message == message


def test_a_list_without_its_paging_attributes_does_not_parse(
    lastfm_answers: RecordedAnswers,
) -> None:
    lastfm_answers.on(f"{API} user.getTopArtists", Recorded(raw=b'{"topartists": {"artist": []}}'))

    with LastfmProvider() as provider, pytest.raises(ProviderBadResponse) as bad:
        list(provider.taste_fetch(session=SESSION))

    assert bad.value.message == "Last.fm sent totalPages that is not a number"


def test_each_list_states_its_size_before_its_items_are_counted(
    lastfm_answers: RecordedAnswers, server: StandInServer
) -> None:
    lastfm_answers.on(f"{API} user.getTopArtists", Recorded("top_artists.json"))
    lastfm_answers.on(f"{API} user.getTopTracks", Recorded("top_tracks.json"))
    lastfm_answers.on(
        f"{API} user.getLovedTracks",
        Recorded("loved_tracks_page_1.json"),
        Recorded("loved_tracks_page_2.json"),
    )
    lastfm_answers.on(f"{API} user.getRecentTracks", Recorded("recent_tracks.json"))
    session = ProviderSession(tokens=TokenSet(access_token="session-key"), account_id="ada_l")
    seen: list[tuple[int, int]] = []
    session.on_progress = lambda fetched: seen.append((fetched, session.expected))

    with LastfmProvider() as provider:
        list(provider.taste_fetch(session=session))

    # (fetched, stated): each list's "total" comes before its first items count (top artists
    # 2, top tracks 1, loved tracks 2 over two pages, recent tracks 3, which sends a fourth:
    # the track now playing).
    assert seen == [(0, 2), (2, 2), (2, 3), (3, 3), (3, 5), (4, 5), (5, 5), (5, 8), (9, 8)]
