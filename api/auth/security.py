"""One bearer-or-session Ninja auth class, CSRF for sessions, and permission requirements."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from api.throttling import client_key, enforce_rate_limit
from musicbud.errors import PermissionDenied
from musicbud.models import User
from musicbud.selectors.users import user_has_permission
from musicbud.services.tokens import TokenClaims, TokenRejected, token_authenticate
from musicbud.services.users import LoginAttempt, login_resolve

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when there is no such header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token:
        raise TokenRejected("token_malformed", "The token is malformed")
    return token


async def login_rate_limits(request: HttpRequest, *, login: str) -> LoginAttempt:
    """Whom ``login`` names, once the budgets of the attempt are spent, before any password
    is hashed: guessing one account from many addresses (the strict policy) and many accounts
    from one address (the looser client policy, so people behind one NAT address can still
    log in) are both slowed down. Every login route (v1, legacy, the admin) spends these.

    The account's budget is counted under the account the lookup found, so every spelling
    of it (a username in other cases, an address with a fullwidth domain, its email instead
    of its username) spends the one budget; a login naming no account gets one too.
    """
    attempt = await login_resolve(login=login)
    await enforce_rate_limit(
        request, group="auth.login.account", policy="strict", key=attempt.budget_key
    )
    await enforce_rate_limit(
        request, group="auth.login.ip", policy="client", key=client_key(request)
    )
    return attempt


async def register_rate_limit(request: HttpRequest) -> None:
    """The budget a registration spends (per client address, looser than per account: many
    people may share one NAT address)."""
    await enforce_rate_limit(request, group="auth.register", policy="client")


async def refresh_rate_limit(request: HttpRequest) -> None:
    """The budget a token refresh spends (per client address)."""
    await enforce_rate_limit(request, group="auth.refresh", policy="strict")


def require_csrf(request: HttpRequest) -> None:
    """Django's CSRF check (cookie + ``X-CSRFToken`` header, Origin/Referer); 403 if it fails."""
    if check_csrf(request) is not None:
        raise PermissionDenied("CSRF verification failed", code="csrf_failed")


class AuthenticatedRequest(HttpRequest):
    """The request of an operation behind ``auth``: the one typed view of what auth sets."""

    auth: User
    # The verified access token's claims; None when the session authenticated.
    token_claims: TokenClaims | None


class BearerOrSessionAuth(HttpBearer):
    """A valid bearer access token wins; an invalid one is a 401 that never falls back.

    Without a bearer token the Django session authenticates, with CSRF enforced on unsafe
    methods. Returns the active ``User`` (Ninja puts it on ``request.auth``) or None (401).
    """

    is_async = True

    async def __call__(self, request: HttpRequest) -> User | None:
        token = bearer_token(request)
        if token is not None:
            # The hot path: no ORM query and no thread hop for a recently seen user.
            user, claims = await token_authenticate(token=token)
            request.user = user
            cast(AuthenticatedRequest, request).token_claims = claims
            return user
        return await self._session_user(request)

    async def _session_user(self, request: HttpRequest) -> User | None:
        auser = getattr(request, "auser", None)
        if auser is None:  # no AuthenticationMiddleware on this request
            return None
        user: Any = await auser()
        if not (user.is_authenticated and user.is_active):
            return None
        if request.method not in SAFE_METHODS and not getattr(request, "_ninja_csrf_exempt", False):
            require_csrf(request)
        # Resolved here, so sync code reading request.user later never queries in the loop.
        request.user = user
        cast(AuthenticatedRequest, request).token_claims = None
        return user  # type: ignore[no-any-return]

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        raise NotImplementedError  # __call__ is the entry point


class PermissionRequired(BearerOrSessionAuth):
    """Authenticates like ``auth``, then requires one Django permission (403 naming it)."""

    def __init__(self, perm: str) -> None:
        super().__init__()
        self.perm = perm

    async def __call__(self, request: HttpRequest) -> User | None:
        user = await super().__call__(request)
        if user is None:
            return None
        if not await user_has_permission(user=user, perm=self.perm):
            raise PermissionDenied(
                f"Permission '{self.perm}' required",
                code="permission_denied",
                details={"permission": self.perm},
            )
        return user


def require_permission(perm: str) -> PermissionRequired:
    """An auth for one operation: ``@router.get(..., auth=require_permission("app.perm"))``."""
    return PermissionRequired(perm)


auth = BearerOrSessionAuth()
