"""MyAnimeList: OAuth 2.0 authorization code with PKCE — MyAnimeList accepts only the ``plain``
challenge method, so the challenge is the verifier itself (kept encrypted server side until the
callback, like every verifier) — then API v2: the anime and manga lists with their list status,
followed through ``paging.next``. Titles scored 8 or more are likes; the 50 highest-scored (ties:
most recently updated) are the top list."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from musicbud.connections.providers.base import (
    Account,
    AuthorizationStart,
    CatalogueEntry,
    Image,
    ProviderItem,
    ProviderSession,
    pkce_pair,
)
from musicbud.connections.providers.errors import (
    ProviderBadResponse,
    ProviderRejected,
)
from musicbud.connections.providers.oauth import OAuthCodeProvider, Shape, shape_parse
from musicbud.connections.providers.settings import MalSettings
from musicbud.connections.providers.transport import response_json
from musicbud.models import ItemKind, Relation

# MyAnimeList's authorization server offers no other method (S256 is refused).
CHALLENGE_METHOD = "plain"
# The most entries API v2 hands out per page of a user's list.
PAGE_LIMIT = 1000
# A title scored this or more (of 10) is a like.
LIKE_MIN_SCORE = 8
TOP_SIZE = 50
# (list kind, the API's list path): anime, then manga.
LISTS = ((ItemKind.ANIME, "/users/@me/animelist"), (ItemKind.MANGA, "/users/@me/mangalist"))


class _Picture(Shape):
    medium: str | None = None
    large: str | None = None


class _Node(Shape):
    id: int
    title: str
    main_picture: _Picture | None = None


class _ListStatus(Shape):
    score: int = 0
    updated_at: datetime | None = None


class ListEntry(Shape):
    node: _Node
    list_status: _ListStatus = _ListStatus()


class _User(Shape):
    id: int
    name: str


T = TypeVar("T", bound=Shape)


def _parse(model: type[T], body: Any, *, what: str) -> T:
    return shape_parse(model, body, service="MyAnimeList", what=what)


def _entry(kind: str, node: _Node) -> CatalogueEntry:
    picture = node.main_picture
    # Widest first: "large" then "medium" (MyAnimeList gives no sizes).
    urls = [url for url in (picture.large, picture.medium) if url] if picture else []
    return CatalogueEntry(
        kind=kind,
        name=node.title,
        provider_id=str(node.id),
        images=tuple(Image(url=url) for url in urls),
    )


def list_items(kind: str, entries: list[ListEntry]) -> Iterator[ProviderItem]:
    """One list's likes (scored ``LIKE_MIN_SCORE`` or more) and top titles (the ``TOP_SIZE``
    highest scored, ties: most recently updated, then the lower id; unscored titles never)."""
    for entry in entries:
        if entry.list_status.score >= LIKE_MIN_SCORE:
            yield ProviderItem(relation=Relation.LIKE, entry=_entry(kind, entry.node))
    oldest = datetime.min.replace(tzinfo=UTC)
    scored = sorted(
        (entry for entry in entries if entry.list_status.score > 0),
        key=lambda entry: (
            -entry.list_status.score,
            -(entry.list_status.updated_at or oldest).timestamp(),
            entry.node.id,
        ),
    )
    for rank, entry in enumerate(scored[:TOP_SIZE], start=1):
        yield ProviderItem(relation=Relation.TOP, entry=_entry(kind, entry.node), rank=rank)


class MalProvider(OAuthCodeProvider[MalSettings]):
    name = "mal"
    authority = api_name = "MyAnimeList"

    # --- authorization -------------------------------------------------------------------

    def token_url(self) -> str:
        return f"{self.config.AUTH_URL.rstrip('/')}/token"

    def authorization_start(self, *, state: str) -> AuthorizationStart:
        verifier, challenge = pkce_pair(CHALLENGE_METHOD)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.CLIENT_ID,
                "redirect_uri": self.config.REDIRECT_URI,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": CHALLENGE_METHOD,
            }
        )
        base = self.config.AUTH_URL.rstrip("/")
        return AuthorizationStart(url=f"{base}/authorize?{query}", code_verifier=verifier)

    # --- API v2 --------------------------------------------------------------------------

    def account_read(self, *, session: ProviderSession) -> Account:
        user = _parse(_User, self._get(session, self._url("/users/@me"), None), what="a user")
        return Account(id=str(user.id), display_name=user.name)

    def taste_fetch(self, *, session: ProviderSession) -> Iterator[ProviderItem]:
        for kind, path in LISTS:
            yield from list_items(kind, list(self._list(session, path)))

    def _url(self, path: str) -> str:
        return f"{self.config.API_URL.rstrip('/')}{path}"

    def _list(self, session: ProviderSession, path: str) -> Iterator[ListEntry]:
        """Every entry of one list, following ``paging.next`` to the end."""
        url: str | None = self._url(path)
        query: Mapping[str, str | int] | None = {
            "fields": "list_status",
            "limit": PAGE_LIMIT,
            "nsfw": "true",
        }
        seen: set[str] = set()
        while url is not None:
            body = self._get(session, url, query)
            data = body.get("data")
            if not isinstance(data, list):
                raise ProviderBadResponse(f"MyAnimeList sent a page without data ({path})")
            entries = [_parse(ListEntry, item, what=f"an entry of {path}") for item in data]
            session.advance(len(entries))
            yield from entries
            paging = body.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            if following is None:
                return
            if not isinstance(following, str) or following in seen:
                raise ProviderBadResponse(f"MyAnimeList sent a next link that loops ({path})")
            if not following.startswith(self.config.API_URL.rstrip("/") + "/"):
                # The bearer token goes only to the configured API.
                raise ProviderBadResponse(f"MyAnimeList sent a next page outside its API ({path})")
            seen.add(following)
            url, query = following, None

    def _get(
        self, session: ProviderSession, url: str, params: Mapping[str, str | int] | None
    ) -> dict[str, Any]:
        response = self._authorized_get(session, url, params)
        body = response_json(response, label=self.label)
        if response.status_code != HTTPStatus.OK:
            error = str(body.get("error", ""))[:100]
            raise ProviderRejected(
                f"MyAnimeList answered {response.status_code} on {httpx.URL(url).path}"
                + (f" ({error})" if error else "")
            )
        return body
