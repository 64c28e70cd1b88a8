"""Per-user socket slots: how many chat sockets a user holds open, counted across workers."""

from __future__ import annotations

import time

from django.conf import settings

from musicbud.cache import async_cache, redis_client

# A worker that dies cannot release its slots: each slot is refreshed by its socket's
# periodic check and one not refreshed for this many check intervals no longer counts.
_STALE_CHECKS = 4
_local: dict[int, set[str]] = {}  # without Redis: this process is the whole server


def _key(user_id: int) -> str:
    return async_cache.make_key(f"chat:sockets:{user_id}")


def _stale_after() -> float:
    return max(60.0, _STALE_CHECKS * settings.CHAT_SESSION_CHECK_SECONDS)


async def socket_slot_take(*, user_id: int, socket: str) -> bool:
    """Take a slot for ``socket``; False (and nothing taken) when the user holds
    ``CHAT_MAX_SOCKETS_PER_USER`` already."""
    limit = settings.CHAT_MAX_SOCKETS_PER_USER
    if not async_cache.uses_redis:
        held = _local.setdefault(user_id, set())
        if len(held) >= limit:
            return False
        held.add(socket)
        return True
    key, now = _key(user_id), time.time()
    async with redis_client().pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now - _stale_after())
        pipe.zadd(key, {socket: now})
        pipe.zcard(key)
        pipe.expire(key, int(_stale_after()) + 1)
        _, _, held, _ = await pipe.execute()
    if held > limit:
        await redis_client().zrem(key, socket)
        return False
    return True


async def socket_slot_refresh(*, user_id: int, socket: str) -> None:
    """The socket is still open (its periodic check)."""
    if async_cache.uses_redis:
        key = _key(user_id)
        async with redis_client().pipeline(transaction=True) as pipe:
            pipe.zadd(key, {socket: time.time()}, xx=True)
            pipe.expire(key, int(_stale_after()) + 1)
            await pipe.execute()


async def socket_slot_release(*, user_id: int, socket: str) -> None:
    if not async_cache.uses_redis:
        _local.get(user_id, set()).discard(socket)
        return
    await redis_client().zrem(_key(user_id), socket)
