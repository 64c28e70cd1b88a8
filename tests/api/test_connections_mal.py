"""MyAnimeList through HTTP against its stand-in: connect (PKCE ``plain``), the sync (anime and
manga likes and top lists, pages), token expiry with a rotated refresh token, disconnect."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from graph.models import UserLibrary
from musicbud.connections.models import ConnectionStatus, ProviderConnection
from musicbud.connections.token_cipher import token_decrypt
from musicbud.models import Anime, Manga, TasteEdge, User
from tests.api.test_connections import Capture, _connect, _sync, _url
from tests.fixtures.taste import taste_edges
from tooling.standins import ProviderStandIn
from tooling.standins.mal import mal_entry

pytestmark = pytest.mark.django_db

PROVIDER = "mal"


@pytest.fixture
def library(standin: ProviderStandIn) -> ProviderStandIn:
    standin.mal.library.anime = [
        mal_entry("anime", 1, score=10),
        mal_entry("anime", 2, score=8, updated_at="2026-02-01T00:00:00+00:00"),
        mal_entry("anime", 3, score=8, updated_at="2026-03-01T00:00:00+00:00"),
        mal_entry("anime", 4, score=5),
        mal_entry("anime", 5, score=0),
    ]
    standin.mal.library.manga = [mal_entry("manga", 1, score=9), mal_entry("manga", 2, score=7)]
    return standin


@pytest.fixture
def connected(
    api_client: Client, library: ProviderStandIn, django_capture_on_commit_callbacks: Capture
) -> ProviderConnection:
    _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)
    return ProviderConnection.objects.get(provider=PROVIDER)


def test_authorize_uses_the_plain_method_mal_accepts(
    api_client: Client, standin: ProviderStandIn
) -> None:
    response = api_client.post(_url("connection-authorize", PROVIDER))

    query = parse_qs(urlsplit(response.json()["authorization_url"]).query)
    assert query["code_challenge_method"] == ["plain"]
    assert query["redirect_uri"] == ["http://testserver/api/v1/connections/mal/callback"]


def test_connect_then_anime_and_manga_likes_and_top_lists(
    api_client: Client,
    library: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    response = _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert response["Location"] == "https://app.example.org/connected?provider=mal&status=ok"
    body = api_client.get(_url("connection", PROVIDER)).json()
    assert body["account"] == {"id": "4242", "display_name": "standin_otaku"}
    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["progress"] == 7
    assert taste_edges(user) == {
        ("like", "anime", "Anime 1", None, None, "mal"),
        ("like", "anime", "Anime 2", None, None, "mal"),
        ("like", "anime", "Anime 3", None, None, "mal"),
        ("top", "anime", "Anime 1", 1, None, "mal"),
        ("top", "anime", "Anime 3", 2, None, "mal"),  # 8, updated later than Anime 2
        ("top", "anime", "Anime 2", 3, None, "mal"),
        ("top", "anime", "Anime 4", 4, None, "mal"),
        ("like", "manga", "Manga 1", None, None, "mal"),
        ("top", "manga", "Manga 1", 1, None, "mal"),
        ("top", "manga", "Manga 2", 2, None, "mal"),
    }
    anime = Anime.objects.get(mal_id="100001")
    assert anime.images == [
        {
            "url": "https://cdn.myanimelist.example/images/anime/100001l.jpg",
            "width": None,
            "height": None,
        },
        {
            "url": "https://cdn.myanimelist.example/images/anime/100001.jpg",
            "width": None,
            "height": None,
        },
    ]
    assert Manga.objects.get(mal_id="200002").name == "Manga 2"
    top = api_client.get(reverse("api-v1:my-top", args=["anime"])).json()["items"]
    assert [(t["rank"], t["item"]["name"], t["item"]["kind"]) for t in top] == [
        (1, "Anime 1", "anime"),
        (2, "Anime 3", "anime"),
        (3, "Anime 2", "anime"),
        (4, "Anime 4", "anime"),
    ]
    assert top[0]["item"]["external_ids"] == {"mal": "100001"}
    liked = api_client.get(reverse("api-v1:my-likes", args=["manga"])).json()["items"]
    assert [item["item"]["name"] for item in liked] == ["Manga 1"]
    library_row = UserLibrary.objects.get(user=user)
    assert (library_row.like_anime, library_row.top_anime, library_row.top_manga) == (3, 4, 2)


def test_a_list_of_more_than_a_page_is_followed_through_paging_next(
    api_client: Client,
    standin: ProviderStandIn,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    standin.mal.library.anime = [mal_entry("anime", i, score=8) for i in range(1, 1201)]

    _connect(api_client, django_capture_on_commit_callbacks, PROVIDER)

    pages = [q.get("offset") for _, path, q in standin.requests if path.endswith("/animelist")]
    assert pages == [None, "1000"]
    assert TasteEdge.objects.filter(user=user, kind="anime", relation="like").count() == 1200
    assert TasteEdge.objects.filter(user=user, kind="anime", relation="top").count() == 50


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_stored(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    stored_refresh = token_decrypt(connected.refresh_token)
    library.mal.expire_access_tokens()
    library.requests.clear()

    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["last_sync"]["status"] == "succeeded"
    assert library.paths("/mal-oauth2/token") == ["/mal-oauth2/token"]
    connected.refresh_from_db()
    assert token_decrypt(connected.refresh_token) not in ("", stored_refresh)

    # The old refresh token was spent; the stored one keeps working.
    library.mal.expire_access_tokens()
    assert (
        _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)["last_sync"]["status"]
        == "succeeded"
    )


def test_a_revoked_grant_needs_reauth(
    api_client: Client,
    library: ProviderStandIn,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    before = taste_edges(user)
    library.revoke_grants()

    body = _sync(api_client, django_capture_on_commit_callbacks, PROVIDER)

    assert body["status"] == ConnectionStatus.NEEDS_REAUTH
    assert body["last_sync"]["error"] == (
        "MyAnimeList refused the grant (The refresh token is invalid.); authorize again"
    )
    assert taste_edges(user) == before


def test_disconnect_removes_the_anime_and_manga_taste(
    api_client: Client,
    connected: ProviderConnection,
    user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(_url("connection", PROVIDER))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert taste_edges(user) == set()
    library_row = UserLibrary.objects.get(user=user)
    assert (library_row.like_anime, library_row.top_anime, library_row.top_manga) == (0, 0, 0)
    # The catalogue keeps the titles (the unscored Anime 5 was never taste, nor catalogued).
    assert sorted(Anime.objects.values_list("name", flat=True)) == [
        "Anime 1",
        "Anime 2",
        "Anime 3",
        "Anime 4",
    ]
