"""Reads of users: the cached principal of the bearer hot path, permission checks."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from musicbud.cache import async_cache
from musicbud.models import User


def user_cache_key(user_id: int) -> str:
    return f"user:{user_id}"


async def user_get_cached(*, user_id: int) -> User | None:
    """The user by id, from the async cache when recently seen (no ORM query, no thread hop).

    The cached copy never holds the password hash (the field is deferred), and every save or
    delete of the user drops it (``musicbud.signals``), so deactivation, password changes and
    admin edits apply to the next request.
    """
    key = user_cache_key(user_id)
    user: User | None = await async_cache.get(key)
    if user is not None:
        return user
    # Cold cache: one ORM query (through Django's async ORM, i.e. one hop).
    user = await User.objects.defer("password").filter(pk=user_id).afirst()
    if user is not None:
        await async_cache.set(key, user, settings.USER_CACHE_TTL_SECONDS)
    return user


def user_cache_invalidate(*, user_id: int) -> None:
    """Drop the cached copy (sync: called from ORM signal receivers)."""
    cache.delete(user_cache_key(user_id))


async def user_has_permission(*, user: User, perm: str) -> bool:
    """Asked of the database on every call, so group and permission edits apply at once."""
    # The instance is per request (unpickled from the cache or loaded by the session), so
    # Django's per-instance permission cache never outlives a request. One hop covers all
    # of has_perm's queries.
    return await sync_to_async(user.has_perm, thread_sensitive=True)(perm)
