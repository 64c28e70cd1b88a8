"""Keys of the API's cached reads and their invalidation, which services register after commit
(``on_commit(..., robust=True)``: a cache outage after a committed write only leaves entries
to expire by their TTL)."""

from __future__ import annotations

from django.core.cache import cache

# The prefixes of the cached reads (``musicbud.cache.cached_query``): "profile:<version>:
# <user_id>:g<generation>", "buds:<user_id>:p<shape>:<page>:g<generation>" (and a ranking's
# count, "buds:<user_id>:<kind>:<source>:count:g<generation>"). The profile's version names
# ProfileData's shape: entries cached by code with an older shape are never read.
PROFILE = "profile:2"
BUDS = "buds"
# The shape of a cached bud page (graph.types.BudPage), in its key for the same reason: version
# 2 added the previous page's cursor, 3 a bud's ``taste_hidden``.
BUD_PAGE_SHAPE = 3


# A change bumps a generation instead of deleting the entry: a read that began before the
# change and stores after it stores under the old generation, which nothing reads again (a
# deleted key would take its stale value for a whole TTL).
def profile_generation_key(user_id: int) -> str:
    return f"{PROFILE}:{user_id}:gen"


# A taste change bumps the user's generation, which ends every bud page key of theirs: all
# their cached pages drop at once, without scanning keys. Other users' pages that mention
# them refresh when their TTL runs out.
def buds_generation_key(user_id: int) -> str:
    return f"{BUDS}:{user_id}:gen"


def _generation_bump(key: str) -> int:
    """The counter under ``key`` moved on by one; the generation it retired."""
    # add() is atomic (SET NX), so concurrent first bumps cannot both reset the counter.
    cache.add(key, 0, timeout=None)
    return int(cache.incr(key)) - 1


def profile_cache_invalidate(*, user_id: int) -> None:
    """Drop the cached profile (sync: services run in a worker thread; shares keys with
    ``async_cache``): a new generation, and the retired one's entry deleted (nothing would
    read it again, but it holds the person's details: an erased account's go at once)."""
    retired = _generation_bump(profile_generation_key(user_id))
    cache.delete(f"{PROFILE}:{user_id}:g{retired}")  # profile_get's key of that generation


def taste_caches_invalidate(*, user_id: int) -> None:
    """Drop what a taste change makes stale: the profile's counts and every cached bud page."""
    profile_cache_invalidate(user_id=user_id)
    _generation_bump(buds_generation_key(user_id))
