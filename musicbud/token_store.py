"""What a token's validity depends on: refresh-token families, their ``TokenFamily`` rows the
truth and the cache a copy for the bearer hot path (api/auth/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from musicbud.cache import async_cache, stored_bytes
from musicbud.models import TokenFamily

ACTIVE = "active"
REVOKED = "revoked"
# The bytes Redis holds for an active family (a script compares them: api.cached_answers).
ACTIVE_STORED = stored_bytes(ACTIVE)


class Rotation(StrEnum):
    ROTATED = "rotated"
    REVOKED = "revoked"  # the family was revoked, has expired or never existed
    REUSED = "reused"  # an already rotated token: the family is now revoked


@dataclass(frozen=True, slots=True)
class FamilyState:
    """A family's state as read from its row, and how long that may be cached."""

    active: bool
    ttl_seconds: int


def family_cache_key(family_id: str) -> str:
    return f"tokens:family:{family_id}"


def _revoked_ttl() -> int:
    # Only access tokens consult the cached state (refreshes ask the row), so a revoked
    # state needs caching no longer than an access token of the family can be presented;
    # after that a reload reads "revoked" from the row again.
    return int(settings.JWT_ACCESS_TTL_SECONDS + settings.JWT_LEEWAY_SECONDS)


async def family_create(*, family_id: str, user_id: int, jti: str, ttl_seconds: int) -> None:
    """Record a new family (one login) whose first refresh token is ``jti``."""
    await sync_to_async(_database_create, thread_sensitive=True)(
        family_id=family_id, user_id=user_id, jti=jti, ttl_seconds=ttl_seconds
    )
    # A new id nobody else knows yet: nothing to race with.
    await async_cache.set(family_cache_key(family_id), ACTIVE, ttl_seconds)


def _database_create(*, family_id: str, user_id: int, jti: str, ttl_seconds: int) -> None:
    now = datetime.now(UTC)
    with transaction.atomic():
        # Every token of an expired family has expired too: a login is the moment to drop
        # the user's dead rows, so the table stays as large as the live logins.
        TokenFamily.objects.filter(user_id=user_id, expires_at__lte=now).delete()
        TokenFamily.objects.create(
            id=family_id,
            user_id=user_id,
            current_jti=jti,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )


async def family_rotate(
    *, family_id: str, old_jti: str, new_jti: str, ttl_seconds: int
) -> Rotation:
    """Spend ``old_jti`` for ``new_jti`` if it is the family's current token (one hop)."""
    result = await sync_to_async(_database_rotate, thread_sensitive=True)(
        family_id=family_id, old_jti=old_jti, new_jti=new_jti, ttl_seconds=ttl_seconds
    )
    # A rotated family stays active, so its cached state (if any) is still right, and now lasts
    # as long as the row: the hot path keeps reading it instead of the row. Any other outcome
    # means the row is not active: say so to the hot path at once.
    if result is Rotation.ROTATED:
        await async_cache.expire(family_cache_key(family_id), ttl_seconds)
    else:
        await async_cache.set(family_cache_key(family_id), REVOKED, _revoked_ttl())
    return result


def _database_rotate(*, family_id: str, old_jti: str, new_jti: str, ttl_seconds: int) -> Rotation:
    now = datetime.now(UTC)
    with transaction.atomic():
        rotated = TokenFamily.objects.filter(
            id=family_id, current_jti=old_jti, revoked_at=None, expires_at__gt=now
        ).update(current_jti=new_jti, expires_at=now + timedelta(seconds=ttl_seconds))
        if rotated:
            return Rotation.ROTATED
        # Reuse of a rotated token: revoke the live family it belongs to.
        reused = TokenFamily.objects.filter(
            id=family_id, revoked_at=None, expires_at__gt=now
        ).update(revoked_at=now)
    return Rotation.REUSED if reused else Rotation.REVOKED


async def family_state_cached(*, family_id: str, key: str) -> tuple[Any, Any]:
    """The family's cached state (``ACTIVE``, ``REVOKED`` or ``MISSING``) and the cache value
    under ``key`` (``MISSING`` when absent), read at one instant in one round trip: the
    bearer hot path's two reads."""
    state, value = await async_cache.get_many(family_cache_key(family_id), key)
    return state, value


def family_state_load(*, family_id: str) -> FamilyState:
    """The family's state from its row (sync: one query). An unknown family is revoked."""
    row = TokenFamily.objects.filter(id=family_id).values("revoked_at", "expires_at").first()
    now = datetime.now(UTC)
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return FamilyState(active=False, ttl_seconds=_revoked_ttl())
    return FamilyState(
        active=True, ttl_seconds=max(1, int((row["expires_at"] - now).total_seconds()))
    )


async def family_state_remember(*, family_id: str, state: FamilyState) -> None:
    """Cache a state read from the row, unless a revocation has cached one meanwhile."""
    await async_cache.add(
        family_cache_key(family_id), ACTIVE if state.active else REVOKED, state.ttl_seconds
    )


async def family_revoke(*, family_id: str) -> bool:
    """Revoke one family (logout); True if it was live.

    The row first, then the cache. If the cache write fails the error reaches the client,
    whose retry writes it again (the cached state is set whether or not the row changed).
    """
    updated = await TokenFamily.objects.filter(id=family_id, revoked_at=None).aupdate(
        revoked_at=datetime.now(UTC)
    )
    await async_cache.set(family_cache_key(family_id), REVOKED, _revoked_ttl())
    return updated > 0


async def user_revoke_all(*, user_id: int) -> int:
    """Revoke every live family of the user (password change); returns how many."""
    family_ids = await sync_to_async(_database_revoke_user, thread_sensitive=True)(user_id=user_id)
    for family_id in family_ids:
        await async_cache.set(family_cache_key(family_id), REVOKED, _revoked_ttl())
    return len(family_ids)


def _database_revoke_user(*, user_id: int) -> list[str]:
    now = datetime.now(UTC)
    with transaction.atomic():
        live = TokenFamily.objects.select_for_update().filter(
            user_id=user_id, revoked_at=None, expires_at__gt=now
        )
        family_ids = [str(family_id) for family_id in live.values_list("id", flat=True)]
        TokenFamily.objects.filter(id__in=family_ids).update(revoked_at=now)
    return family_ids
