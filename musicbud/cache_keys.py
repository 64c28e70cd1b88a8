"""Keys of the API's cached reads and their invalidation, which services register after commit
(``on_commit(..., robust=True)``: a cache outage after a committed write only leaves entries
to expire by their TTL)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from musicbud.cache import CacheRead, async_cache


def profile_key(user_id: int) -> str:
    return f"profile:{user_id}"


# A taste change bumps the user's generation, which is part of every bud page key: all their
# cached pages drop at once, without scanning keys. Other users' pages that mention them
# refresh when their TTL runs out.
def buds_generation_key(user_id: int) -> str:
    return f"buds:{user_id}:gen"


def buds_key(user_id: int, generation: int, params: str) -> str:
    return f"buds:{user_id}:{generation}:{params}"


def buds_page_read(user_id: int, params: str) -> CacheRead:
    """The read of the page cached under the current generation (for ``reads_ahead``)."""
    return CacheRead(f"buds:{user_id}:", buds_generation_key(user_id), f":{params}")


async def buds_page_cached(user_id: int, params: str) -> tuple[int, Any]:
    """The current generation and the page cached under it (``MISSING`` if none), read
    together in one round trip."""
    read = buds_page_read(user_id, params)
    return await async_cache.get_generational(
        buds_generation_key(user_id), read.key, read.key_suffix
    )


def profile_cache_invalidate(*, user_id: int) -> None:
    """Drop the cached profile (sync: services run in a worker thread; shares keys with
    ``async_cache``)."""
    cache.delete(profile_key(user_id))


def taste_caches_invalidate(*, user_id: int) -> None:
    """Drop what a taste change makes stale: the profile's counts and every cached bud page."""
    cache.delete(profile_key(user_id))
    generation = buds_generation_key(user_id)
    # add() is atomic (SET NX), so concurrent first bumps cannot both reset the counter.
    cache.add(generation, 0, timeout=None)
    cache.incr(generation)
