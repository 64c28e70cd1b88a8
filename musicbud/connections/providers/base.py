"""What every music service module provides (one module implementing :class:`Provider`, listed
in ``registry``), and the shapes it hands back (:class:`ProviderItem`: an edge to set)."""

from __future__ import annotations

import abc
import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar, cast

from django.conf import settings

from musicbud.connections.providers.registry import provider_entry
from musicbud.connections.providers.settings import ProviderSettings
from musicbud.connections.providers.transport import ProviderTransport

S = TypeVar("S", bound=ProviderSettings)


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None

    def as_json(self) -> dict[str, object]:
        return {"url": self.url, "width": self.width, "height": self.height}


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A track, album, artist or genre as the provider describes it.

    ``provider_id`` is the provider's own id (Spotify id; Last.fm: the MusicBrainz id when it
    gives one); ``artists`` and ``album`` are the entries it links to.
    """

    kind: str
    name: str
    provider_id: str | None = None
    artists: tuple[CatalogueEntry, ...] = ()
    album: CatalogueEntry | None = None
    genres: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    duration_ms: int | None = None
    release_year: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderItem:
    """One edge the provider says the user has: relation, entry, and rank or play count."""

    relation: str
    entry: CatalogueEntry
    rank: int | None = None
    play_count: int | None = None
    last_played_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None
    scope: str = ""
    # Last.fm names the account in its session answer; Spotify leaves it to the profile read.
    account_id: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    url: str
    # The PKCE verifier to keep (server side) until the callback; '' when the flow has none.
    code_verifier: str = ""


@dataclass(slots=True)
class ProviderSession:
    """The tokens a fetch uses; a refresh replaces them, and ``refreshed`` tells the caller
    to store the new ones. A provider reports the items it fetched (``advance``) and, when a
    listing states its size, how many it is about to fetch (``expect``)."""

    tokens: TokenSet
    account_id: str = ""
    refreshed: bool = False
    on_progress: Callable[[int], None] = field(default=lambda fetched: None)
    fetched: int = 0
    expected: int = 0

    def advance(self, count: int) -> None:
        self.fetched += count
        self.on_progress(self.fetched)

    def expect(self, count: int) -> None:
        """A listing stated that it holds ``count`` items (said once per listing)."""
        self.expected += max(count, 0)
        self.on_progress(self.fetched)


def pkce_pair(method: str = "S256") -> tuple[str, str]:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters) and its challenge:
    ``S256`` the verifier's SHA-256, base64url without padding; ``plain`` the verifier."""
    verifier = secrets.token_urlsafe(64)
    if method == "plain":
        return verifier, verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Provider(abc.ABC, Generic[S]):
    """One music service (``S``: its block of settings). Every call it makes has a timeout;
    faults raise ProviderError."""

    name: str

    @property
    def label(self) -> str:
        return provider_entry(self.name).label

    @property
    def config(self) -> S:
        """Its block of ``settings.PROVIDERS``."""
        return cast(S, settings.PROVIDERS[self.name])

    def __init__(self, transport: ProviderTransport | None = None) -> None:
        self._transport = transport

    @property
    def transport(self) -> ProviderTransport:
        if self._transport is None:
            self._transport = ProviderTransport(label=self.label)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> Provider[S]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def configured(self) -> bool:
        """Whether the client credentials this provider needs are in settings."""
        return self.config.configured()

    @abc.abstractmethod
    def callback_url(self) -> str:
        """Our URL the service sends the browser back to (its setting; its path scopes the
        cookie that binds an authorization to the browser that started it)."""

    @abc.abstractmethod
    def authorization_start(self, *, state: str) -> AuthorizationStart:
        """Where to send the user's browser to grant access, carrying ``state``."""

    @abc.abstractmethod
    def callback_grant(self, params: Mapping[str, str]) -> str:
        """The grant in the callback's query (``code``, Last.fm's ``token``); '' if absent."""

    @abc.abstractmethod
    def code_exchange(self, *, grant: str, code_verifier: str) -> TokenSet:
        """Trade the callback's grant for tokens."""

    @abc.abstractmethod
    def token_refresh(self, *, tokens: TokenSet) -> TokenSet:
        """New tokens from the refresh token; ProviderAuthRevoked when it is refused."""

    def token_revoke(self, *, tokens: TokenSet) -> bool:
        """Revoke the grant at the service, where it offers revocation (account deletion
        calls this before the tokens are deleted); False when it offers none. Spotify and
        Last.fm offer none: their grants end when the person removes the app there."""
        return False

    @abc.abstractmethod
    def account_read(self, *, session: ProviderSession) -> Account:
        """The provider account the tokens belong to."""

    @abc.abstractmethod
    def taste_fetch(self, *, session: ProviderSession) -> Iterator[ProviderItem]:
        """Every item of the user's taste at the provider, every page followed to its end."""
