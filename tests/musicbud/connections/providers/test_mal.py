"""The MyAnimeList client against its recorded answers: the ``plain`` PKCE authorization,
token grants, lists paged by ``paging.next``, likes (score 8 or more) and the top list."""

from __future__ import annotations

from datetime import UTC, datetime
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
)
from musicbud.connections.providers.mal import ListEntry, MalProvider, list_items
from tests.fixtures.providers import provider_settings_set
from tests.fixtures.recorded import Recorded, RecordedAnswers
from tooling.standins.mal import mal_entry
from tooling.standins.server import StandInServer

TOKENS = TokenSet(access_token="at", refresh_token="rt")


@pytest.fixture
def answers(server: StandInServer, settings: Any) -> RecordedAnswers:
    recorded = server.mount(RecordedAnswers("mal"))
    recorded.api_path = "/v2"
    provider_settings_set(
        settings,
        "mal",
        CLIENT_ID="mal-client",
        CLIENT_SECRET="mal-secret",
        REDIRECT_URI="http://testserver/callback",
        AUTH_URL=server.base_url + "/v1/oauth2",
        API_URL=server.base_url + "/v2",
    )
    return recorded


def _summary(items: list[ProviderItem]) -> list[tuple[object, ...]]:
    return [(i.relation, i.entry.kind, i.entry.name, i.entry.provider_id, i.rank) for i in items]


def test_the_authorization_url_uses_the_plain_method_the_challenge_being_the_verifier(
    answers: RecordedAnswers,
) -> None:
    with MalProvider() as provider:
        start = provider.authorization_start(state="st4te")

    url = urlsplit(start.url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert url.path == "/v1/oauth2/authorize"
    assert query == {
        "response_type": "code",
        "client_id": "mal-client",
        "redirect_uri": "http://testserver/callback",
        "state": "st4te",
        "code_challenge": start.code_verifier,
        "code_challenge_method": "plain",
    }
    assert 43 <= len(start.code_verifier) <= 128


def test_the_code_exchange_and_a_refresh_read_the_rotated_tokens(
    answers: RecordedAnswers, server: StandInServer
) -> None:
    answers.on("POST /v1/oauth2/token", Recorded("token.json"), Recorded("token_refreshed.json"))

    with MalProvider() as provider:
        tokens = provider.code_exchange(grant="code", code_verifier="verifier")
        refreshed = provider.token_refresh(tokens=tokens)

    assert (tokens.access_token, tokens.refresh_token) == (
        "eyJrecorded-mal-access-token",
        "def50200recorded-mal-refresh-token",
    )
    assert (refreshed.access_token, refreshed.refresh_token) == (
        "eyJrecorded-mal-refreshed-access-token",
        "def50200recorded-mal-rotated-refresh-token",
    )
    assert tokens.expires_at is not None
    assert abs((tokens.expires_at - datetime.now(UTC)).total_seconds() - 2_678_400) < 60
    assert server.paths() == ["/v1/oauth2/token", "/v1/oauth2/token"]


def test_a_refused_refresh_means_authorize_again(answers: RecordedAnswers) -> None:
    answers.on("POST /v1/oauth2/token", Recorded("token_invalid_grant.json", status=400))

    with MalProvider() as provider, pytest.raises(ProviderAuthRevoked) as refused:
        provider.token_refresh(tokens=TOKENS)

    assert refused.value.message.startswith("MyAnimeList refused the grant (The provided")
    assert refused.value.message.endswith("; authorize again")


def test_an_expired_token_is_refreshed_once_and_the_account_read(
    answers: RecordedAnswers,
) -> None:
    answers.on(
        "GET /v2/users/@me", Recorded("invalid_token.json", status=401), Recorded("user.json")
    )
    answers.on("POST /v1/oauth2/token", Recorded("token_refreshed.json"))
    session = ProviderSession(tokens=TOKENS)

    with MalProvider() as provider:
        account = provider.account_read(session=session)

    assert account == Account(id="1234567", display_name="ada_watches")
    assert session.refreshed is True
    assert session.tokens.refresh_token == "def50200recorded-mal-rotated-refresh-token"


def test_the_taste_is_likes_and_top_titles_of_both_lists_every_page_followed(
    answers: RecordedAnswers, server: StandInServer
) -> None:
    answers.on(
        "GET /v2/users/@me/animelist",
        Recorded("animelist_page_1.json"),
        Recorded("animelist_page_2.json"),
    )
    answers.on("GET /v2/users/@me/mangalist", Recorded("mangalist.json"))
    session = ProviderSession(tokens=TOKENS)

    with MalProvider() as provider:
        items = list(provider.taste_fetch(session=session))

    assert _summary(items) == [
        ("like", "anime", "Fullmetal Alchemist: Brotherhood", "5114", None),
        ("like", "anime", "Cowboy Bebop", "1", None),
        ("like", "anime", "Steins;Gate", "9253", None),
        ("top", "anime", "Fullmetal Alchemist: Brotherhood", "5114", 1),
        # Both scored 8: the more recently updated first.
        ("top", "anime", "Steins;Gate", "9253", 2),
        ("top", "anime", "Cowboy Bebop", "1", 3),
        # Scored 6: in the top list, not a like; One Piece (unscored) in neither.
        ("top", "anime", "Naruto", "20", 4),
        ("like", "manga", "Berserk", "2", None),
        ("top", "manga", "Berserk", "2", 1),
    ]
    assert items[0].entry == CatalogueEntry(
        kind="anime",
        name="Fullmetal Alchemist: Brotherhood",
        provider_id="5114",
        images=(
            Image("https://cdn.myanimelist.net/images/anime/1208/94745l.jpg"),
            Image("https://cdn.myanimelist.net/images/anime/1208/94745.jpg"),
        ),
    )
    assert session.fetched == 2 + 3 + 1
    lists = [(path, q) for _, path, q in server.requests if path.startswith("/v2/users/@me/")]
    assert lists == [
        ("/v2/users/@me/animelist", {"fields": "list_status", "limit": "1000", "nsfw": "true"}),
        ("/v2/users/@me/animelist", {"offset": "2", "fields": "list_status", "limit": "2"}),
        ("/v2/users/@me/mangalist", {"fields": "list_status", "limit": "1000", "nsfw": "true"}),
    ]
    assert answers.unanswered() == {}


def test_the_top_list_is_the_fifty_highest_scored_ties_most_recently_updated() -> None:
    entries = [
        ListEntry.model_validate(
            mal_entry("anime", i, score=10 - i % 3, updated_at=f"2026-01-{1 + i % 28:02d}T00:00Z")
        )
        for i in range(60)
    ]

    top = [item for item in list_items("anime", entries) if item.relation == "top"]

    expected = sorted(
        entries,
        key=lambda e: (-e.list_status.score, -e.list_status.updated_at.timestamp(), e.node.id),  # type: ignore[union-attr]
    )[:50]
    assert [(i.entry.provider_id, i.rank) for i in top] == [
        (str(e.node.id), rank) for rank, e in enumerate(expected, start=1)
    ]
    assert len(top) == 50
    assert top[0].entry.provider_id == "100027"  # score 10, updated 28 January
    likes = [item for item in list_items("anime", entries) if item.relation == "like"]
    assert len(likes) == 60  # scores 10, 9 and 8 are all likes


def test_a_next_link_outside_the_api_is_refused(answers: RecordedAnswers) -> None:
    answers.on(
        "GET /v2/users/@me/animelist",
        Recorded(
            raw=b'{"data": [], "paging": {"next": "https://evil.example/v2/users/@me/animelist"}}'
        ),
    )

    with MalProvider() as provider, pytest.raises(ProviderBadResponse) as outside:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert outside.value.message == (
        "MyAnimeList sent a next page outside its API (/users/@me/animelist)"
    )


def test_an_entry_without_a_node_is_named(answers: RecordedAnswers) -> None:
    answers.on(
        "GET /v2/users/@me/animelist",
        Recorded(raw=b'{"data": [{"list_status": {"score": 9}}], "paging": {}}'),
    )

    with MalProvider() as provider, pytest.raises(ProviderBadResponse) as bad:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert bad.value.message == (
        "MyAnimeList sent an entry of /users/@me/animelist that does not parse "
        "(node: Field required)"
    )


def test_a_forbidden_list_is_a_rejection(answers: RecordedAnswers) -> None:
    answers.on("GET /v2/users/@me/animelist", Recorded(raw=b'{"error": "forbidden"}', status=403))

    with MalProvider() as provider, pytest.raises(ProviderRejected) as rejected:
        list(provider.taste_fetch(session=ProviderSession(tokens=TOKENS)))

    assert rejected.value.message == (
        "MyAnimeList answered 403 on /v2/users/@me/animelist (forbidden)"
    )
