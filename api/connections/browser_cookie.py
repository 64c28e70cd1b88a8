"""The cookie that binds an authorization to the browser that started it: set with the
authorization link, scoped to the provider's callback path, checked and cleared there."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from musicbud.connections.services import STATE_TTL, AuthorizationOut

COOKIE_PREFIX = "musicbud_connect_"


def _name(provider: str) -> str:
    return f"{COOKIE_PREFIX}{provider}"


def authorization_cookie_set(
    response: HttpResponseBase, *, provider: str, authorization: AuthorizationOut
) -> None:
    """HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which Lax lets
    through), Secure where sessions are, sent only to the callback, gone with the state."""
    response.set_cookie(
        _name(provider),
        authorization.browser_key,
        max_age=int(STATE_TTL.total_seconds()),
        path=urlsplit(authorization.callback_url).path or "/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def authorization_cookie_read(request: HttpRequest, *, provider: str) -> str:
    return request.COOKIES.get(_name(provider), "")


def authorization_cookie_clear(
    response: HttpResponseBase, *, request: HttpRequest, provider: str
) -> None:
    """Spent with its state: the callback's own path is the cookie's."""
    response.delete_cookie(_name(provider), path=request.path, samesite="Lax")
