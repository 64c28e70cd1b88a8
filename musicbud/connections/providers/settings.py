"""Each provider's block of settings: its fields are read from ``<NAME>_<FIELD>`` variables
(the registry's name, upper-cased), validated at start-up. Imported by config/environment.py,
so nothing here may need Django's apps."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _callback_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
        raise ValueError(f"{value!r} is not an http(s) URL without a query")
    return value


# Where a provider is reached: the real service by default, a stand-in in tests and staging.
BaseUrl = Annotated[str, AfterValidator(_base_url)]
# Where the provider sends the user's browser back (our callback URL).
CallbackUrl = Annotated[str | None, AfterValidator(_callback_url)]


class ProviderSettings(BaseSettings):
    """One provider's settings. Without every field named in ``REQUIRED`` (its client
    credentials) the provider is "unconfigured": listed, but its endpoints answer 409."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True, frozen=True)

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    # The field holding our callback URL (where the service sends the browser back).
    CALLBACK: ClassVar[str] = "REDIRECT_URI"

    def configured(self) -> bool:
        return all(getattr(self, name) for name in self.REQUIRED)

    def with_values(self, **values: object) -> Self:
        """A copy with ``values`` in place, validated (the environment is not read again)."""
        return type(self).model_validate({**dict(self), **values})


def secret(value: SecretStr | None) -> str:
    """A secret setting's value, '' when unset."""
    return value.get_secret_value() if value is not None else ""


class OAuthClientSettings(ProviderSettings):
    """A service reached as an OAuth 2.0 client: the credentials it issued us and our callback."""

    REQUIRED = ("CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI")

    CLIENT_ID: str | None = None
    CLIENT_SECRET: SecretStr | None = None
    REDIRECT_URI: CallbackUrl = None


class SpotifySettings(OAuthClientSettings):
    """Spotify: Authorization Code with PKCE, then the Web API."""

    ACCOUNTS_URL: BaseUrl = "https://accounts.spotify.com"
    API_URL: BaseUrl = "https://api.spotify.com/v1"
    # short_term (~4 weeks) | medium_term (~6 months) | long_term (~1 year) for top items.
    TOP_TIME_RANGE: Literal["short_term", "medium_term", "long_term"] = "medium_term"
    # Pages of one offset paging object (saved tracks, saved albums) fetched side by side once
    # the first page states the total; 1 walks them one at a time.
    PAGE_CONCURRENCY: Annotated[int, Field(ge=1, le=16)] = 4


class LastfmSettings(ProviderSettings):
    """Last.fm: its web authentication, then its API (every call signed or keyed)."""

    REQUIRED = ("API_KEY", "API_SECRET", "CALLBACK_URL")
    CALLBACK = "CALLBACK_URL"

    API_KEY: str | None = None
    API_SECRET: SecretStr | None = None
    API_URL: BaseUrl = "https://ws.audioscrobbler.com/2.0/"
    AUTH_URL: BaseUrl = "https://www.last.fm/api/auth/"
    CALLBACK_URL: CallbackUrl = None


class YtmusicSettings(OAuthClientSettings):
    """YouTube Music: Google's OAuth 2.0 (authorization code with PKCE S256, offline access),
    then the YouTube Data API v3."""

    AUTH_URL: BaseUrl = "https://accounts.google.com/o/oauth2/v2/auth"
    TOKEN_URL: BaseUrl = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    # Where a grant is revoked when its account is deleted.
    REVOKE_URL: BaseUrl = "https://oauth2.googleapis.com/revoke"
    API_URL: BaseUrl = "https://www.googleapis.com/youtube/v3"


class MalSettings(OAuthClientSettings):
    """MyAnimeList: OAuth 2.0 with PKCE (``plain`` only), then API v2."""

    # ``<AUTH_URL>/authorize`` and ``<AUTH_URL>/token``.
    AUTH_URL: BaseUrl = "https://myanimelist.net/v1/oauth2"
    API_URL: BaseUrl = "https://api.myanimelist.net/v2"
