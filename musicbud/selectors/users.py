"""Reads of users: the cached principal of the bearer hot path, permission checks."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils.crypto import salted_hmac

from musicbud.cache import MISSING, async_cache
from musicbud.errors import InvalidInput, NotFound
from musicbud.models import User


class UserRef(NamedTuple):
    pk: int
    public_id: UUID


async def active_user_find(
    *, username: str | None = None, public_id: UUID | None = None
) -> UserRef:
    """An active user by username (case-insensitive) or public id; NotFound otherwise."""
    if public_id is not None:
        lookup: dict[str, Any] = {"public_id": public_id}
        missing = f"No user with id {public_id}"
    elif username is not None:
        lookup = {"username__iexact": username}
        missing = f"No user named {username!r}"
    else:
        raise InvalidInput("Name the user by username or id", code="user_required")
    row = (
        await User.objects.filter(is_active=True, **lookup).values_list("pk", "public_id").afirst()
    )
    if row is None:
        raise NotFound(missing, code="user_not_found")
    return UserRef(pk=row[0], public_id=row[1])


@dataclass(frozen=True, slots=True)
class UserCard:
    """Another user as lists show them: public fields only, never the email."""

    public_id: UUID
    username: str
    display_name: str
    bio: str
    avatar_url: str


async def user_cards_get(*, public_ids: list[UUID]) -> dict[UUID, UserCard]:
    """The active users of those public ids, in one query."""
    rows = User.objects.filter(public_id__in=public_ids, is_active=True).values_list(
        "public_id", "username", "display_name", "bio", "avatar_url"
    )
    # One query in one thread hop: async iteration fetches the whole result at once.
    return {row[0]: UserCard(*row) async for row in rows}


@functools.cache
def _user_schema_digest() -> str:
    # Part of the key: after a deploy that changes the User model, copies pickled by the old
    # code (lacking the new fields, which would load lazily, i.e. with a query in the event
    # loop) are simply never read.
    names = ",".join(sorted(field.attname for field in User._meta.concrete_fields))
    return hashlib.sha256(names.encode()).hexdigest()[:8]


def user_cache_key(user_id: int) -> str:
    return f"user:{_user_schema_digest()}:{user_id}"


def password_stamp(password_hash: str) -> str:
    """A short keyed digest of the password hash; tokens carry it, so any password change
    (this API, the admin, ``manage.py changepassword``) invalidates them at once.

    Like Django's session auth hash: an HMAC under SECRET_KEY, revealing nothing of the hash.
    """
    return salted_hmac(
        "musicbud.tokens.password_stamp", password_hash, algorithm="sha256"
    ).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    """What the bearer hot path needs: the user (without the password hash) and its stamp."""

    user: User
    password_stamp: str


async def principal_get_cached(*, user_id: int, prefetched: Any = None) -> CachedPrincipal | None:
    """The user by id from the async cache when recently seen (no ORM query, no thread hop).

    Every save or delete of the user drops the entry (``musicbud.signals``), so deactivation,
    password changes and admin edits apply to the next request. ``prefetched``: the entry
    under ``user_cache_key(user_id)`` when the caller has just read it (``MISSING`` if absent),
    so it is not read twice.
    """
    key = user_cache_key(user_id)
    cached = prefetched if prefetched is not None else await async_cache.get(key, MISSING)
    if cached is not MISSING:
        principal: CachedPrincipal = cached
        return principal
    # Cold cache: one query in one hop.
    loaded = await sync_to_async(principal_load, thread_sensitive=True)(user_id=user_id)
    if loaded is not None:
        await principal_remember(loaded)
    return loaded


def principal_load(*, user_id: int) -> CachedPrincipal | None:
    """The user from the database (sync: one query), as ``principal_get_cached`` caches it.

    The hash is read only to derive the stamp; the user has the field deferred, so the hash
    is never cached.
    """
    user = (
        User.objects.defer("password")
        .annotate(password_hash=F("password"))
        .filter(pk=user_id)
        .first()
    )
    if user is None:
        return None
    return CachedPrincipal(
        user=user, password_stamp=password_stamp(vars(user).pop("password_hash"))
    )


def user_credential_key(user_id: int) -> str:
    """The key of the user's credential: what a token of the user must carry to be served
    (``credential_value``), beside the cached user so a Redis script can check it."""
    return f"{user_cache_key(user_id)}:credential"


INACTIVE_CREDENTIAL = "inactive"


def credential_value(principal: CachedPrincipal) -> str:
    """The stamp a token must carry; ``INACTIVE_CREDENTIAL`` (never a stamp: stamps are 16
    hex digits) for an inactive user."""
    return principal.password_stamp if principal.user.is_active else INACTIVE_CREDENTIAL


async def principal_remember(principal: CachedPrincipal) -> None:
    """Cache a principal that ``principal_load`` read, and its credential (the cached-read
    lane's script checks a token's stamp against it before counting anything)."""
    ttl = settings.USER_CACHE_TTL_SECONDS
    await async_cache.set(user_cache_key(principal.user.pk), principal, ttl)
    await async_cache.set(user_credential_key(principal.user.pk), credential_value(principal), ttl)


def user_cache_invalidate(*, user_id: int) -> None:
    """Drop the cached copy and its credential (sync: called from ORM signal receivers)."""
    cache.delete_many([user_cache_key(user_id), user_credential_key(user_id)])


async def user_has_permission(*, user: User, perm: str) -> bool:
    """Asked of the database on every call, so group and permission edits apply at once."""
    # The instance is per request (unpickled from the cache or loaded by the session), so
    # Django's per-instance permission cache never outlives a request. One hop covers all
    # of has_perm's queries.
    return await sync_to_async(user.has_perm, thread_sensitive=True)(perm)
