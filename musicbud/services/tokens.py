"""JWT access and refresh tokens: issue, verify, rotate with reuse detection, revoke. Signed with
the first key of ``settings.JWT_KEYS``, verified with the one their ``kid`` names."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from musicbud.cache import MISSING
from musicbud.errors import AuthenticationFailed
from musicbud.models import User
from musicbud.selectors.users import (
    CachedPrincipal,
    password_stamp,
    principal_get_cached,
    principal_load,
    principal_remember,
    user_cache_key,
)
from musicbud.token_store import (
    ACTIVE,
    FamilyState,
    Rotation,
    family_create,
    family_revoke,
    family_rotate,
    family_state_cached,
    family_state_load,
    family_state_remember,
    user_revoke_all,
)

logger = logging.getLogger(__name__)

# Every claim ``_encode`` issues; PyJWT refuses a token lacking any of them (the header's
# ``kid`` is required separately: without it no key is found).
REQUIRED_CLAIMS = ("sub", "typ", "jti", "fam", "pwv", "iat", "nbf", "exp", "iss", "aud")
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# PyJWT's refusals, the most specific first (the last catches the rest): the code and message
# of each.
DECODE_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired", "The token has expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "The token is not yet valid"),
    (jwt.InvalidSignatureError, "token_bad_signature", "The token's signature is invalid"),
    (jwt.MissingRequiredClaimError, "token_claims_missing", "The token lacks a required claim"),
    (jwt.InvalidIssuerError, "token_wrong_issuer", "The token has the wrong issuer"),
    (jwt.InvalidAudienceError, "token_wrong_audience", "The token has the wrong audience"),
    (jwt.InvalidTokenError, "token_malformed", "The token is malformed"),
)


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class TokenRejected(AuthenticationFailed):
    """A presented token is not acceptable; ``code`` says why (see api/auth/README.md)."""

    www_authenticate = 'Bearer error="invalid_token"'

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    token_type: TokenType
    jti: str
    family_id: str
    password_stamp: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expires_in: int


@functools.lru_cache(maxsize=8)
def _keyring(algorithm: str, keys: tuple[tuple[str, str], ...]) -> tuple[str, Any, dict[str, Any]]:
    """(signing kid, signing key, kid -> verifying key); parsed PEMs are kept, not re-read."""
    if algorithm in HMAC_ALGORITHMS:
        return keys[0][0], keys[0][1], dict(keys)
    verifying: dict[str, Any] = {}
    for kid, pem in keys:
        if "PRIVATE KEY-----" in pem:
            verifying[kid] = serialization.load_pem_private_key(
                pem.encode(), password=None
            ).public_key()
        else:
            verifying[kid] = serialization.load_pem_public_key(pem.encode())
    signing = serialization.load_pem_private_key(keys[0][1].encode(), password=None)
    return keys[0][0], signing, verifying


def _keys() -> tuple[str, Any, dict[str, Any]]:
    return _keyring(settings.JWT_ALGORITHM, tuple(tuple(pair) for pair in settings.JWT_KEYS))


def _encode(
    *, user_id: int, token_type: TokenType, jti: str, family_id: str, stamp: str, now: int
) -> str:
    ttl = (
        settings.JWT_ACCESS_TTL_SECONDS
        if token_type is TokenType.ACCESS
        else settings.JWT_REFRESH_TTL_SECONDS
    )
    kid, signing_key, _ = _keys()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "typ": token_type.value,
        "jti": jti,
        "fam": family_id,
        "pwv": stamp,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    return jwt.encode(claims, signing_key, algorithm=settings.JWT_ALGORITHM, headers={"kid": kid})


def _new_jti() -> str:
    return secrets.token_urlsafe(24)


def _verification_settings() -> tuple[Any, ...]:
    return (
        settings.JWT_ALGORITHM,
        tuple(tuple(pair) for pair in settings.JWT_KEYS),
        settings.JWT_AUDIENCE,
        settings.JWT_ISSUER,
        settings.JWT_LEEWAY_SECONDS,
    )


@functools.lru_cache(maxsize=4096)
def _access_token_verified(token: str, verification_settings: tuple[Any, ...]) -> TokenClaims:
    # Keyed by the settings too, so a key that is retired (or any other change) re-verifies.
    # A rejection raises and is never cached.
    return token_decode(token=token, expected_type=TokenType.ACCESS)


def access_token_decode(*, token: str) -> TokenClaims:
    """``token_decode`` for access tokens, remembering (per process) tokens that verified.

    A client sends the same access token with every request until it expires, and the
    verification is a pure function of the token and the JWT settings except for time: a
    remembered token is accepted only while unexpired by PyJWT's own rule (``exp`` > now -
    leeway); ``nbf`` and ``iat``, once passed, stay passed. Revocation and the user are
    checked on every request regardless.
    """
    claims = _access_token_verified(token, _verification_settings())
    if claims.expires_at <= time.time() - settings.JWT_LEEWAY_SECONDS:
        raise TokenRejected("token_expired", "The token has expired")
    return claims


def _malformed() -> TokenRejected:
    return TokenRejected("token_malformed", "The token is malformed")


def token_decode(*, token: str, expected_type: TokenType) -> TokenClaims:
    """Verify signature, algorithm, key id and every claim; raise ``TokenRejected`` if not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _malformed() from None
    algorithm = header.get("alg")
    # Exactly the configured algorithm: never "none", and never another family that would
    # read a key as something else (the classic RS256/HS256 confusion).
    if algorithm != settings.JWT_ALGORITHM:
        raise TokenRejected("token_algorithm_not_allowed", "The token's algorithm is not allowed")
    kid = header.get("kid")
    key = _keys()[2].get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenRejected("token_unknown_key", "The token's signing key is not known")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_sub": False},
        )
    except jwt.InvalidTokenError as exc:
        code, message = next(
            (code, message) for error, code, message in DECODE_ERRORS if isinstance(exc, error)
        )
        raise TokenRejected(code, message) from None
    return _claims_from_payload(claims, expected_type)


def _claims_from_payload(claims: dict[str, Any], expected_type: TokenType) -> TokenClaims:
    if claims["typ"] != expected_type.value:
        wanted = "an access" if expected_type is TokenType.ACCESS else "a refresh"
        raise TokenRejected("token_wrong_type", f"This needs {wanted} token")
    subject = claims["sub"]
    if not (isinstance(subject, str) and subject.isdigit()):
        raise _malformed()
    if not all(isinstance(claims[name], str) and claims[name] for name in ("jti", "fam", "pwv")):
        raise _malformed()
    try:
        uuid.UUID(claims["fam"])
    except ValueError:
        raise _malformed() from None
    return TokenClaims(
        user_id=int(subject),
        token_type=expected_type,
        jti=claims["jti"],
        family_id=claims["fam"],
        password_stamp=claims["pwv"],
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )


async def _active_user(claims: TokenClaims, *, prefetched: Any = None) -> tuple[User, str]:
    """The token's user, if it still exists, is active and has not changed its password."""
    principal = await principal_get_cached(user_id=claims.user_id, prefetched=prefetched)
    return _principal_checked(claims, principal)


def _principal_checked(claims: TokenClaims, principal: CachedPrincipal | None) -> tuple[User, str]:
    if principal is None:
        raise TokenRejected("token_user_deleted", "The token's user no longer exists")
    if not principal.user.is_active:
        raise TokenRejected("user_inactive", "The token's user is inactive")
    if not hmac.compare_digest(principal.password_stamp, claims.password_stamp):
        # The password changed after the token was issued, by whatever path.
        raise TokenRejected("token_revoked", "The token has been revoked")
    return principal.user, principal.password_stamp


def _access(*, user_id: int, family_id: str, stamp: str, now: int) -> str:
    return _encode(
        user_id=user_id,
        token_type=TokenType.ACCESS,
        jti=_new_jti(),
        family_id=family_id,
        stamp=stamp,
        now=now,
    )


def _pair(*, user_id: int, family_id: str, stamp: str, refresh_jti: str) -> TokenPair:
    now = int(time.time())
    return TokenPair(
        access_token=_access(user_id=user_id, family_id=family_id, stamp=stamp, now=now),
        refresh_token=_encode(
            user_id=user_id,
            token_type=TokenType.REFRESH,
            jti=refresh_jti,
            family_id=family_id,
            stamp=stamp,
            now=now,
        ),
        expires_in=settings.JWT_ACCESS_TTL_SECONDS,
        refresh_expires_in=settings.JWT_REFRESH_TTL_SECONDS,
    )


async def token_pair_issue(*, user: User) -> TokenPair:
    """Start a new family (one login) and return its first access + refresh pair.

    ``user`` must have its password field loaded (as ``user_authenticate`` returns it): the
    tokens carry a stamp of the hash.
    """
    family_id = str(uuid.uuid4())
    refresh_jti = _new_jti()
    await family_create(
        family_id=family_id,
        user_id=user.pk,
        jti=refresh_jti,
        ttl_seconds=settings.JWT_REFRESH_TTL_SECONDS,
    )
    return _pair(
        user_id=user.pk,
        family_id=family_id,
        stamp=password_stamp(user.password),
        refresh_jti=refresh_jti,
    )


def _raise_unless_rotated(rotation: Rotation, claims: TokenClaims) -> None:
    if rotation is Rotation.REUSED:
        logger.warning(
            "refresh token reuse: family revoked",
            extra={"user_id": claims.user_id, "family_id": claims.family_id},
        )
        raise TokenRejected(
            "token_reused", "The refresh token was already used; its sessions are revoked"
        )
    if rotation is Rotation.REVOKED:
        raise TokenRejected("token_revoked", "The token has been revoked")


async def token_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair of the same family issued.

    A token that was already spent revokes its whole family (it was stolen, or the client
    raced itself; both look the same from here).
    """
    claims = token_decode(token=refresh_token, expected_type=TokenType.REFRESH)
    _, stamp = await _active_user(claims)
    new_jti = _new_jti()
    rotation = await family_rotate(
        family_id=claims.family_id,
        old_jti=claims.jti,
        new_jti=new_jti,
        ttl_seconds=settings.JWT_REFRESH_TTL_SECONDS,
    )
    _raise_unless_rotated(rotation, claims)
    return _pair(
        user_id=claims.user_id, family_id=claims.family_id, stamp=stamp, refresh_jti=new_jti
    )


async def token_access_renew(*, refresh_token: str) -> AccessToken:
    """A new access token for a refresh token that stays valid: it is NOT rotated.

    Only the legacy API calls this: the apps installed before the v1 API keep the first
    refresh token of a login for good, so under rotation their second refresh would look like
    reuse and revoke the login. Everything else is checked as by ``token_refresh``: signature
    and claims, the user (active, password unchanged), and the family: it must be live (not
    logged out, revoked or expired) and this must be its current token. The family is
    "rotated" onto the same token id, so the store's one compare-and-set decides: a token
    already rotated away by ``token_refresh`` counts as reuse and revokes its family here too.
    """
    claims = token_decode(token=refresh_token, expected_type=TokenType.REFRESH)
    _, stamp = await _active_user(claims)
    rotation = await family_rotate(
        family_id=claims.family_id,
        old_jti=claims.jti,
        new_jti=claims.jti,
        ttl_seconds=settings.JWT_REFRESH_TTL_SECONDS,
    )
    _raise_unless_rotated(rotation, claims)
    return AccessToken(
        access_token=_access(
            user_id=claims.user_id,
            family_id=claims.family_id,
            stamp=stamp,
            now=int(time.time()),
        ),
        expires_in=settings.JWT_ACCESS_TTL_SECONDS,
    )


async def token_authenticate(*, token: str) -> tuple[User, TokenClaims]:
    """The bearer hot path: verify in the loop, check revocation and the user from caches."""
    claims = access_token_decode(token=token)
    # The family's state and the cached user in one round trip; the family still decides
    # first, so a revoked token is refused as revoked whatever its user's state.
    state, cached_principal = await family_state_cached(
        family_id=claims.family_id, key=user_cache_key(claims.user_id)
    )
    if state is MISSING:
        # The cache lost or never had the family: the row decides.
        return await _authenticate_cold(claims, user_cached=cached_principal is not MISSING)
    if state != ACTIVE:
        raise TokenRejected("token_revoked", "The token has been revoked")
    user, _ = await _active_user(claims, prefetched=cached_principal)
    return user, claims


async def _authenticate_cold(claims: TokenClaims, *, user_cached: bool) -> tuple[User, TokenClaims]:
    # One hop reads the family's row and, unless it is cached, the user.
    state, principal = await sync_to_async(_cold_load, thread_sensitive=True)(
        claims, with_user=not user_cached
    )
    await family_state_remember(family_id=claims.family_id, state=state)
    if not state.active:
        raise TokenRejected("token_revoked", "The token has been revoked")
    if principal is MISSING:
        user, _ = await _active_user(claims)
        return user, claims
    if principal is not None:
        await principal_remember(principal)
    user, _ = _principal_checked(claims, principal)
    return user, claims


def _cold_load(claims: TokenClaims, *, with_user: bool) -> tuple[FamilyState, Any]:
    state = family_state_load(family_id=claims.family_id)
    if not (state.active and with_user):
        return state, MISSING
    return state, principal_load(user_id=claims.user_id)


async def token_family_revoke(*, family_id: str) -> bool:
    """Revoke every token of one login (logout); True if it was live."""
    return await family_revoke(family_id=family_id)


async def token_user_revoke_all(*, user_id: int) -> int:
    """Revoke every token the user holds (password change); returns how many families."""
    return await user_revoke_all(user_id=user_id)


async def token_logout(*, refresh_token: str | None, access_claims: TokenClaims | None) -> set[str]:
    """Revoke the families of the presented tokens; returns their ids.

    The refresh token must verify but may already be spent (a client logging out with the
    token it last used still ends that login).
    """
    family_ids: set[str] = set()
    if refresh_token is not None:
        claims = token_decode(token=refresh_token, expected_type=TokenType.REFRESH)
        family_ids.add(claims.family_id)
    if access_claims is not None:
        family_ids.add(access_claims.family_id)
    for family_id in family_ids:
        await token_family_revoke(family_id=family_id)
    return family_ids
