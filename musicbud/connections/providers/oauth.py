"""What the OAuth 2.0 providers do alike (RFC 6749): read a JSON answer into a typed shape, turn
the token endpoint's answer into a ``TokenSet`` — a 200 is the tokens, ``invalid_grant`` is a
grant the person revoked (authorize again), any other answer a refusal — and, in
``OAuthCodeProvider``, the authorization code grant's callback, exchange and refresh, and API
reads with a bearer token that is refreshed once when it has expired."""

from __future__ import annotations

import abc
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from musicbud.connections.providers.base import Provider, ProviderSession, TokenSet
from musicbud.connections.providers.errors import (
    ProviderAuthRevoked,
    ProviderBadResponse,
    ProviderRejected,
)
from musicbud.connections.providers.settings import OAuthClientSettings, secret
from musicbud.connections.providers.transport import ProviderTransport, response_json


class Shape(BaseModel):
    """A provider's JSON as far as it is read: fields it adds are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


T = TypeVar("T", bound=Shape)


def shape_parse(model: type[T], body: Any, *, service: str, what: str) -> T:
    """``body`` read as ``model``; ProviderBadResponse naming the first field that does not
    parse (``<service> sent <what> that does not parse (<field>: <why>)``)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise ProviderBadResponse(
            f"{service} sent {what} that does not parse ({where}: {first['msg']})"
        ) from None


class OAuthToken(Shape):
    access_token: str
    expires_in: int = 3600
    refresh_token: str | None = None
    scope: str = ""


def token_answer(
    response: httpx.Response, *, service: str, label: str, previous_refresh: str
) -> TokenSet:
    """The tokens of a token endpoint's answer. A refresh answer may leave the refresh token
    out (the one it was given stays valid: ``previous_refresh``)."""
    body = response_json(response, label=label)
    if response.status_code != HTTPStatus.OK:
        error = str(body.get("error", ""))
        # error_description per RFC 6749; MyAnimeList answers message / hint.
        detail = str(
            body.get("error_description") or body.get("message") or body.get("hint") or ""
        )[:200]
        if error == "invalid_grant":
            raise ProviderAuthRevoked(
                f"{service} refused the grant ({detail or error}); authorize again"
            )
        raise ProviderRejected(
            f"{service}'s token endpoint answered {response.status_code} "
            f"({error or 'no error code'})"
        )
    token = shape_parse(OAuthToken, body, service=service, what="a token answer")
    return TokenSet(
        access_token=token.access_token,
        refresh_token=token.refresh_token or previous_refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=token.expires_in),
        scope=token.scope,
    )


C = TypeVar("C", bound=OAuthClientSettings)


class OAuthCodeProvider(Provider[C]):
    """A service whose grant is OAuth 2.0's authorization code (RFC 6749 4.1, with PKCE: RFC
    7636) and whose API takes the access token as a bearer (RFC 6750). A provider names its
    token endpoint and how the client authenticates there, and builds its own authorization
    URL (scopes, challenge method and extra parameters differ by service)."""

    # Who is named in errors: the authorization server's owner (Google), and the API (YouTube).
    authority: str
    api_name: str
    # How the client authenticates at the token endpoint (RFC 6749 2.3.1): HTTP Basic with
    # the client id also in the form (Spotify), or both credentials in the form.
    basic_client_auth: bool = False

    def __init__(self, transport: ProviderTransport | None = None) -> None:
        super().__init__(transport)
        self._refresh_lock = threading.Lock()

    @abc.abstractmethod
    def token_url(self) -> str:
        """The token endpoint."""

    def callback_url(self) -> str:
        return str(self.config.REDIRECT_URI or "")

    def callback_grant(self, params: Mapping[str, str]) -> str:
        return params.get("code", "")

    def code_exchange(self, *, grant: str, code_verifier: str) -> TokenSet:
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": grant,
                "redirect_uri": self.config.REDIRECT_URI or "",
                "code_verifier": code_verifier,
            },
            previous_refresh="",
        )

    def token_refresh(self, *, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise ProviderAuthRevoked(f"{self.authority} gave no refresh token; authorize again")
        return self._token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            previous_refresh=tokens.refresh_token,
        )

    def _token_request(self, form: dict[str, str], *, previous_refresh: str) -> TokenSet:
        client_id = self.config.CLIENT_ID or ""
        client_secret = secret(self.config.CLIENT_SECRET)
        if self.basic_client_auth:
            response = self.transport.request(
                "POST",
                self.token_url(),
                data=form | {"client_id": client_id},
                auth=(client_id, client_secret),
            )
        else:
            credentials = {"client_id": client_id, "client_secret": client_secret}
            response = self.transport.request("POST", self.token_url(), data=form | credentials)
        return token_answer(
            response,
            service=self.authority,
            label=self.label,
            previous_refresh=previous_refresh,
        )

    def _authorized_get(
        self, session: ProviderSession, url: str, params: Mapping[str, str | int] | None
    ) -> httpx.Response:
        """The API's answer to a GET with the session's access token. On a 401 (expired) the
        token is refreshed once and the read made again; reads side by side share that
        refresh (whoever comes second finds the new token already there). A second 401 is a
        revoked grant."""
        sent = session.tokens
        response = self._bearer_get(sent, url, params)
        if response.status_code != HTTPStatus.UNAUTHORIZED:
            return response
        with self._refresh_lock:
            if session.tokens is sent:
                session.tokens = self.token_refresh(tokens=sent)
                session.refreshed = True
        response = self._bearer_get(session.tokens, url, params)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            raise ProviderAuthRevoked(f"{self.api_name} refused a freshly refreshed token")
        return response

    def _bearer_get(
        self, tokens: TokenSet, url: str, params: Mapping[str, str | int] | None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        return self.transport.request("GET", url, params=params, headers=headers)
