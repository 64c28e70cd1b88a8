"""YouTube Music: Google's OAuth 2.0 authorization code flow with PKCE (S256) and offline access,
then the YouTube Data API v3: liked videos in the Music category as liked tracks, subscribed
channels as liked artists, every list followed through ``nextPageToken``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    TokenSet,
    pkce_pair,
)
from musicbud.connections.providers.errors import (
    ProviderBadResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from musicbud.connections.providers.oauth import OAuthCodeProvider, Shape, shape_parse
from musicbud.connections.providers.settings import YtmusicSettings
from musicbud.connections.providers.transport import response_json
from musicbud.models import ItemKind, Relation

SCOPES = "https://www.googleapis.com/auth/youtube.readonly"
PAGE_SIZE = 50
# YouTube's video category "Music": only liked videos in it are tracks.
MUSIC_CATEGORY = "10"
# YouTube Music's auto-generated artist channels are named "<artist> - Topic".
TOPIC_SUFFIX = " - Topic"
# 403 reasons that mean "not now": the project's daily quota, or too many requests. The
# grant is fine, so the connection stays; the sync fails and the scheduler's backoff retries.
TRY_LATER_REASONS = frozenset({"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded"})


class _Thumbnail(Shape):
    url: str
    width: int | None = None
    height: int | None = None


class _VideoSnippet(Shape):
    title: str
    channelId: str | None = None  # noqa: N815 - the API's names
    channelTitle: str = ""  # noqa: N815
    categoryId: str | None = None  # noqa: N815
    thumbnails: dict[str, _Thumbnail] = {}


class _Video(Shape):
    id: str
    snippet: _VideoSnippet


class _ResourceId(Shape):
    channelId: str | None = None  # noqa: N815


class _SubscriptionSnippet(Shape):
    title: str
    resourceId: _ResourceId  # noqa: N815
    thumbnails: dict[str, _Thumbnail] = {}


class _Subscription(Shape):
    snippet: _SubscriptionSnippet


class _ChannelSnippet(Shape):
    title: str = ""


class _Channel(Shape):
    id: str
    snippet: _ChannelSnippet = _ChannelSnippet()


T = TypeVar("T", bound=Shape)


def _parse(model: type[T], body: Any, *, what: str) -> T:
    return shape_parse(model, body, service="YouTube", what=what)


def artist_name(channel_title: str) -> str:
    """An artist's name from its channel's title, without YouTube Music's " - Topic"."""
    return channel_title.removesuffix(TOPIC_SUFFIX).strip()


def _images(thumbnails: dict[str, _Thumbnail]) -> tuple[Image, ...]:
    widest = sorted(thumbnails.values(), key=lambda t: -(t.width or 0))
    return tuple(Image(url=t.url, width=t.width, height=t.height) for t in widest)


def _track_entry(video: _Video) -> CatalogueEntry:
    snippet = video.snippet
    name = artist_name(snippet.channelTitle)
    artists = (
        (CatalogueEntry(kind=ItemKind.ARTIST, name=name, provider_id=snippet.channelId),)
        if name
        else ()
    )
    return CatalogueEntry(
        kind=ItemKind.TRACK,
        name=snippet.title,
        provider_id=video.id,
        artists=artists,
        images=_images(snippet.thumbnails),
    )


def _error_reason(body: dict[str, Any]) -> tuple[str, str]:
    """The first ``reason`` of a Google API error body, and its message."""
    error = body.get("error")
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else {}
    reason = first.get("reason", "") if isinstance(first, dict) else ""
    return str(reason), str(error.get("message", ""))[:200]


class YtmusicProvider(OAuthCodeProvider[YtmusicSettings]):
    name = "ytmusic"
    authority = "Google"
    api_name = "YouTube"

    # --- authorization (Google OAuth 2.0) --------------------------------------------------

    def token_url(self) -> str:
        return str(self.config.TOKEN_URL)

    def authorization_start(self, *, state: str) -> AuthorizationStart:
        verifier, challenge = pkce_pair("S256")
        query = urlencode(
            {
                "client_id": self.config.CLIENT_ID,
                "redirect_uri": self.config.REDIRECT_URI,
                "response_type": "code",
                "scope": SCOPES,
                # A refresh token, and on every consent (not only the first one).
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return AuthorizationStart(url=f"{self.config.AUTH_URL}?{query}", code_verifier=verifier)

    def token_revoke(self, *, tokens: TokenSet) -> bool:
        """Revoke the grant at Google (its revocation endpoint): the refresh token ends the
        grant with every access token it gave. A 400 means Google no longer knows the token
        (expired or already revoked): the grant is gone either way."""
        token = tokens.refresh_token or tokens.access_token
        if not token:
            return False
        response = self.transport.request("POST", self.config.REVOKE_URL, data={"token": token})
        if response.status_code in {HTTPStatus.OK, HTTPStatus.BAD_REQUEST}:
            return True
        raise ProviderRejected(f"Google's revocation endpoint answered {response.status_code}")

    # --- the YouTube Data API ------------------------------------------------------------

    def account_read(self, *, session: ProviderSession) -> Account:
        body = self._get(session, "/channels", {"part": "snippet", "mine": "true"})
        items = body.get("items") or []
        if not isinstance(items, list):
            raise ProviderBadResponse("YouTube sent a channel list without items (/channels)")
        if not items:
            # A Google account without a YouTube channel still has likes and subscriptions.
            return Account(id="youtube-account", display_name="YouTube account")
        channel = _parse(_Channel, items[0], what="a channel")
        return Account(id=channel.id, display_name=channel.snippet.title or channel.id)

    def taste_fetch(self, *, session: ProviderSession) -> Iterator[ProviderItem]:
        liked = {"myRating": "like", "part": "snippet"}
        for video in self._pages(session, "/videos", liked, _Video):
            if video.snippet.categoryId == MUSIC_CATEGORY:
                yield ProviderItem(relation=Relation.LIKE, entry=_track_entry(video))
        subscribed = {"mine": "true", "part": "snippet"}
        for subscription in self._pages(session, "/subscriptions", subscribed, _Subscription):
            snippet = subscription.snippet
            name = artist_name(snippet.title)
            if not name:
                continue
            yield ProviderItem(
                relation=Relation.LIKE,
                entry=CatalogueEntry(
                    kind=ItemKind.ARTIST,
                    name=name,
                    provider_id=snippet.resourceId.channelId,
                    images=_images(snippet.thumbnails),
                ),
            )

    def _pages(
        self, session: ProviderSession, path: str, params: Mapping[str, str], model: type[T]
    ) -> Iterator[T]:
        """Every item of a list, page after page through ``nextPageToken``."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = {**params, "maxResults": str(PAGE_SIZE)}
            if token:
                query["pageToken"] = token
            body = self._get(session, path, query)
            items = body.get("items", [])
            if not isinstance(items, list):
                raise ProviderBadResponse(f"YouTube sent a page without items ({path})")
            if token is None:
                # The first page states the list's size: the sync's progress has a total.
                info = body.get("pageInfo")
                total = info.get("totalResults") if isinstance(info, dict) else None
                if isinstance(total, int):
                    session.expect(total)
            parsed = [_parse(model, item, what=f"an item of {path}") for item in items]
            session.advance(len(parsed))
            yield from parsed
            following = body.get("nextPageToken")
            if not following:
                return
            if not isinstance(following, str) or following in seen:
                # A token seen before would walk the same pages forever.
                raise ProviderBadResponse(f"YouTube sent a page token that loops ({path})")
            seen.add(following)
            token = following

    def _get(
        self, session: ProviderSession, path: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        url = f"{self.config.API_URL.rstrip('/')}{path}"
        response = self._authorized_get(session, url, params)
        body = response_json(response, label=self.label)
        if response.status_code == HTTPStatus.OK:
            return body
        reason, message = _error_reason(body)
        if response.status_code == HTTPStatus.FORBIDDEN and reason in TRY_LATER_REASONS:
            raise ProviderUnavailable(
                f"YouTube's API is over its quota for now ({reason}); the sync will be tried "
                "again later"
            )
        raise ProviderRejected(
            f"YouTube answered {response.status_code} on {httpx.URL(url).path}"
            + (f" ({reason})" if reason else "")
            + (f": {message}" if message else "")
        )
