"""What the OAuth 2.0 providers do alike (RFC 6749): read a JSON answer into a typed shape, and
turn the token endpoint's answer into a ``TokenSet`` — a 200 is the tokens, ``invalid_grant``
is a grant the person revoked (authorize again), any other answer a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from musicbud.connections.providers.base import TokenSet
from musicbud.connections.providers.errors import (
    ProviderAuthRevoked,
    ProviderBadResponse,
    ProviderRejected,
)
from musicbud.connections.providers.transport import response_json


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
