"""Authentication for the API.

Interim: session authentication only. The authentication issue replaces the internals with
the combined bearer-or-session class; routers keep importing ``auth`` and get the ``User``
as ``request.auth``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie

from musicbud.models import User


class BearerOrSessionAuth(APIKeyCookie):
    """Returns the authenticated, active ``User`` or ``None`` (which Ninja turns into a 401)."""

    param_name = "sessionid"
    is_async = True

    async def __call__(self, request: HttpRequest) -> User | None:
        user: Any = await request.auser()
        if user.is_authenticated and user.is_active:
            request.user = user
            return user  # type: ignore[no-any-return]
        return None

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        raise NotImplementedError  # __call__ is the entry point


auth = BearerOrSessionAuth()
