"""Keys of the API's cached reads and their invalidation, which services register after commit
(``on_commit(..., robust=True)``: a cache outage after a committed write only leaves entries
to expire by their TTL)."""

from __future__ import annotations

from django.core.cache import cache

# The prefixes of the cached reads (``musicbud.cache.cached_query``): "profile:<user_id>",
# "buds:<user_id>:p<shape>:<page>:g<generation>" (and a ranking's count, "buds:<user_id>:<kind>:
# <source>:count:g<generation>"). The profile's version names ProfileData's shape:
# entries cached by code with an older shape are never read.
PROFILE = "profile:2"
BUDS = "buds"
# The shape of a cached bud page (graph.types.BudPage), in its key for the same reason: version
# 2 added the previous page's cursor, 3 a bud's ``taste_hidden``.
BUD_PAGE_SHAPE = 3


def profile_key(user_id: int) -> str:
    return f"{PROFILE}:{user_id}"


# A taste change bumps the user's generation, which ends every bud page key of theirs: all
# their cached pages drop at once, without scanning keys. Other users' pages that mention
# them refresh when their TTL runs out.
def buds_generation_key(user_id: int) -> str:
    return f"{BUDS}:{user_id}:gen"


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
