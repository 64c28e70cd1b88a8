"""Where refresh-token families live: Redis when ``REDIS_URL`` is set, the database otherwise.

A family is one login's chain of rotated refresh tokens. Its state is the ``jti`` of the one
refresh token that may still be used, or "revoked". Both stores rotate with one atomic
compare-and-set, so two concurrent refreshes of the same token yield at most one new pair.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from musicbud.cache import MISSING, async_cache, redis_client
from musicbud.models import TokenFamily

REVOKED = "revoked"
ACTIVE = "active"


class Rotation(StrEnum):
    ROTATED = "rotated"
    REVOKED = "revoked"  # the family was revoked, has expired or never existed
    REUSED = "reused"  # an already rotated token: the family is now revoked


def _family_key(family_id: str) -> str:
    return f"tokens:family:{family_id}"


def _user_key(user_id: int) -> str:
    return f"tokens:user:{user_id}"


class TokenStore(Protocol):
    async def family_create(
        self, *, family_id: str, user_id: int, jti: str, ttl_seconds: int
    ) -> None: ...

    async def family_rotate(
        self, *, family_id: str, user_id: int, old_jti: str, new_jti: str, ttl_seconds: int
    ) -> Rotation: ...

    async def family_is_active(self, *, family_id: str) -> bool: ...

    async def family_is_active_and_get(self, *, family_id: str, key: str) -> tuple[bool, Any]:
        """``family_is_active``, and the async-cache value under ``key`` (``MISSING`` when
        absent) read with it: the bearer hot path's one round trip for its two reads."""
        ...

    async def family_revoke(self, *, family_id: str) -> bool: ...

    async def user_revoke_all(self, *, user_id: int) -> int: ...


# KEYS[1] family, KEYS[2] the user's family set; ARGV old jti, new jti, ttl, revoked marker.
_ROTATE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
    redis.call('EXPIRE', KEYS[2], ARGV[3])
    return 1
end
if current ~= ARGV[4] then
    redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
    return 2
end
return 0
"""

# KEYS[1] the user's family set; ARGV[1] family key prefix, ARGV[2] revoked marker. The
# family keys are built inside the script, so this assumes one Redis, not a Cluster.
_REVOKE_USER_SCRIPT = """
local families = redis.call('SMEMBERS', KEYS[1])
local revoked = 0
for _, family in ipairs(families) do
    local key = ARGV[1] .. family
    local current = redis.call('GET', key)
    if current and current ~= ARGV[2] then
        redis.call('SET', key, ARGV[2], 'KEEPTTL')
        revoked = revoked + 1
    end
end
redis.call('DEL', KEYS[1])
return revoked
"""


class RedisTokenStore:
    """State in Redis with TTL = the remaining lifetime of the family's newest refresh token."""

    async def family_create(
        self, *, family_id: str, user_id: int, jti: str, ttl_seconds: int
    ) -> None:
        user_key = async_cache.make_key(_user_key(user_id))
        async with redis_client().pipeline(transaction=True) as pipe:
            pipe.set(async_cache.make_key(_family_key(family_id)), jti, ex=ttl_seconds)
            pipe.sadd(user_key, family_id)
            pipe.expire(user_key, ttl_seconds)
            await pipe.execute()

    async def family_rotate(
        self, *, family_id: str, user_id: int, old_jti: str, new_jti: str, ttl_seconds: int
    ) -> Rotation:
        result = await redis_client().eval(
            _ROTATE_SCRIPT,
            2,
            async_cache.make_key(_family_key(family_id)),
            async_cache.make_key(_user_key(user_id)),
            old_jti,
            new_jti,
            ttl_seconds,
            REVOKED,
        )
        return {1: Rotation.ROTATED, 2: Rotation.REUSED}.get(int(result), Rotation.REVOKED)

    async def family_is_active(self, *, family_id: str) -> bool:
        # An unknown family (expired, or state lost) counts as revoked: fail closed.
        value = await redis_client().get(async_cache.make_key(_family_key(family_id)))
        return value is not None and value != REVOKED.encode()

    async def family_is_active_and_get(self, *, family_id: str, key: str) -> tuple[bool, Any]:
        family_key = _family_key(family_id)
        # One MGET: both values as of the same instant, so a revocation that completed before
        # this request is seen exactly as by family_is_active.
        state, value = await async_cache.get_many(family_key, key, raw={family_key})
        return state is not MISSING and state != REVOKED.encode(), value

    async def family_revoke(self, *, family_id: str) -> bool:
        key = async_cache.make_key(_family_key(family_id))
        previous = await redis_client().set(key, REVOKED, xx=True, keepttl=True, get=True)
        return previous is not None and previous != REVOKED.encode()

    async def user_revoke_all(self, *, user_id: int) -> int:
        result = await redis_client().eval(
            _REVOKE_USER_SCRIPT,
            1,
            async_cache.make_key(_user_key(user_id)),
            async_cache.make_key(_family_key("")),
            REVOKED,
        )
        return int(result)


class DatabaseTokenStore:
    """State in ``TokenFamily`` rows; the in-process cache answers the hot-path check.

    Without Redis the project runs as one process (the embedded default), so the process
    cache is the only copy to keep in step: every write here updates it after the row.
    """

    async def family_create(
        self, *, family_id: str, user_id: int, jti: str, ttl_seconds: int
    ) -> None:
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        await TokenFamily.objects.acreate(
            id=family_id, user_id=user_id, current_jti=jti, expires_at=expires_at
        )
        await async_cache.set(_family_key(family_id), ACTIVE, ttl_seconds)

    async def family_rotate(
        self, *, family_id: str, user_id: int, old_jti: str, new_jti: str, ttl_seconds: int
    ) -> Rotation:
        # One hop for the whole compare-and-set; the conditional UPDATE is the atomic step.
        result = await sync_to_async(_database_rotate, thread_sensitive=True)(
            family_id=family_id, old_jti=old_jti, new_jti=new_jti, ttl_seconds=ttl_seconds
        )
        if result is Rotation.ROTATED:
            await async_cache.set(_family_key(family_id), ACTIVE, ttl_seconds)
        else:
            await async_cache.set(_family_key(family_id), REVOKED, settings.JWT_ACCESS_TTL_SECONDS)
        return result

    async def family_is_active(self, *, family_id: str) -> bool:
        state = await async_cache.get(_family_key(family_id))
        if state is None:
            # Cold cache (a restart): the row is the truth; remember it until it expires.
            row = (
                await TokenFamily.objects.filter(id=family_id)
                .values("revoked_at", "expires_at")
                .afirst()
            )
            now = datetime.now(UTC)
            if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
                state = REVOKED
                ttl = settings.JWT_ACCESS_TTL_SECONDS
            else:
                state = ACTIVE
                ttl = max(1, int((row["expires_at"] - now).total_seconds()))
            await async_cache.set(_family_key(family_id), state, ttl)
        return bool(state == ACTIVE)

    async def family_is_active_and_get(self, *, family_id: str, key: str) -> tuple[bool, Any]:
        # The in-process cache: no round trip to save.
        return await self.family_is_active(family_id=family_id), await async_cache.get(key, MISSING)

    async def family_revoke(self, *, family_id: str) -> bool:
        updated = await TokenFamily.objects.filter(id=family_id, revoked_at=None).aupdate(
            revoked_at=datetime.now(UTC)
        )
        await async_cache.set(_family_key(family_id), REVOKED, settings.JWT_REFRESH_TTL_SECONDS)
        return updated > 0

    async def user_revoke_all(self, *, user_id: int) -> int:
        family_ids = await sync_to_async(_database_revoke_user, thread_sensitive=True)(
            user_id=user_id
        )
        for family_id in family_ids:
            await async_cache.set(_family_key(family_id), REVOKED, settings.JWT_REFRESH_TTL_SECONDS)
        return len(family_ids)


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


def _database_revoke_user(*, user_id: int) -> list[str]:
    now = datetime.now(UTC)
    with transaction.atomic():
        live = TokenFamily.objects.select_for_update().filter(user_id=user_id, revoked_at=None)
        family_ids = [str(family_id) for family_id in live.values_list("id", flat=True)]
        TokenFamily.objects.filter(id__in=family_ids).update(revoked_at=now)
    return family_ids


def token_store() -> TokenStore:
    """The store for the current settings (chosen per call, so tests can switch)."""
    return RedisTokenStore() if async_cache.uses_redis else DatabaseTokenStore()
