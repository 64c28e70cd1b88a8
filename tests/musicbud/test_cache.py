"""The async cache on both backends, and its shared namespace with Django's cache."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache as django_cache
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from fastpath.read_ahead import CacheRead
from musicbud.cache import (
    MISSING,
    async_cache,
    cached_query,
    close_redis_clients,
    redis_client,
    run_script,
)
from tests.conftest import require_service

LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "musicbud-test-cache",
        "KEY_PREFIX": "musicbud",
    }
}


async def _redis_reachable(url: str) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, settings: Any) -> AsyncIterator[str]:
    """Runs a test on the in-memory backend and on Redis (REDIS_URL, the caller's own db)."""
    if request.param == "memory":
        settings.REDIS_URL = None
        settings.CACHES = LOCMEM
    else:
        url = settings.REDIS_URL
        if not url:
            require_service("redis", "REDIS_URL is not set")
        if not await _redis_reachable(url):
            require_service("redis", f"no answer at {url}")
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "musicbud",
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            }
        }
    django_cache.clear()
    yield request.param
    django_cache.clear()
    await close_redis_clients()


async def test_uses_the_configured_backend(backend: str) -> None:
    assert async_cache.uses_redis is (backend == "redis")


@pytest.mark.parametrize(
    "value", ["text", 42, -7, 0, True, 3.5, None, {"a": [1, 2]}, ("t", 1), b"\x00bytes"]
)
async def test_set_then_get_round_trips(backend: str, value: object) -> None:
    await async_cache.set("k", value)

    assert await async_cache.get("k", "missing") == value
    assert type(await async_cache.get("k")) is type(value)


async def test_get_of_a_missing_key_is_the_default(backend: str) -> None:
    assert await async_cache.get("absent") is None
    assert await async_cache.get("absent", 5) == 5


async def test_set_with_expire_expires(backend: str) -> None:
    await async_cache.set("short", "v", expire=1)
    await async_cache.set("forever", "v")

    await asyncio.sleep(1.1)

    assert await async_cache.get("short") is None
    assert await async_cache.get("forever") == "v"


async def test_set_with_zero_expire_deletes(backend: str) -> None:
    await async_cache.set("k", "old")

    await async_cache.set("k", "new", expire=0)

    assert await async_cache.get("k") is None


async def test_increment_starts_from_zero_and_is_atomic(backend: str) -> None:
    assert await async_cache.increment("n") == 1
    assert await async_cache.increment("n", 5) == 6

    results = await asyncio.gather(*(async_cache.increment("c") for _ in range(50)))

    assert sorted(results) == list(range(1, 51))
    assert await async_cache.get("c") == 50


async def test_increment_expiry_applies_only_when_the_counter_is_created(backend: str) -> None:
    await async_cache.increment("window", expire=1)
    await async_cache.increment("window", expire=100)  # must not extend the window
    await async_cache.increment("kept")
    await async_cache.increment("kept", expire=1)  # existing counter: no expiry added

    await asyncio.sleep(1.1)

    assert await async_cache.get("window") is None
    assert await async_cache.get("kept") == 2


async def test_increment_is_one_command_and_rejects_nothing_at_the_boundary(
    backend: str, count_redis_commands: list[str]
) -> None:
    counts = [await async_cache.increment("limit", expire=60) for _ in range(3)]

    assert counts == [1, 2, 3]
    # One EVALSHA per hit (no MULTI/SET/INCRBY/EXEC); nothing at all in memory.
    assert count_redis_commands == (["EVALSHA"] * 3 if backend == "redis" else [])


async def test_a_script_unknown_to_the_server_is_loaded_by_eval() -> None:
    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    # A script no server has seen (a fresh sha), as after a Redis restart or SCRIPT FLUSH.
    script = f"return '{uuid.uuid4()}'"
    sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()

    try:
        first = await run_script(script, sha, 0)
        second = await run_script(script, sha, 0)  # now cached on the server: EVALSHA answers
    finally:
        await close_redis_clients()

    assert first == second == script.split("'")[1].encode()


async def test_get_many_reads_every_key_in_one_command(
    backend: str, count_redis_commands: list[str]
) -> None:
    await async_cache.set("a", {"x": 1})
    await async_cache.set("none", None)
    if backend == "redis":
        await redis_client().set(async_cache.make_key("raw"), "jti-value")
    else:
        await async_cache.set("raw", "jti-value")
    count_redis_commands.clear()

    values = await async_cache.get_many("a", "missing", "none", "raw", raw={"raw"})

    expected_raw = b"jti-value" if backend == "redis" else "jti-value"
    assert values == [{"x": 1}, MISSING, None, expected_raw]
    assert count_redis_commands == (["MGET"] if backend == "redis" else [])


async def test_get_generational_reads_the_key_of_the_current_generation(
    backend: str, count_redis_commands: list[str]
) -> None:
    assert await async_cache.get_generational("gen:7", "page:7:", ":a") == (0, MISSING)
    await async_cache.set("page:7:0:a", ["zero"])
    assert await async_cache.get_generational("gen:7", "page:7:", ":a") == (0, ["zero"])

    # Bumped the way services bump it: through Django's cache, in a worker thread.
    await sync_to_async(django_cache.add)("gen:7", 0, timeout=None)
    await sync_to_async(django_cache.incr)("gen:7")
    assert await async_cache.get_generational("gen:7", "page:7:", ":a") == (1, MISSING)
    await async_cache.set("page:7:1:a", ["one"])
    count_redis_commands.clear()

    assert await async_cache.get_generational("gen:7", "page:7:", ":a") == (1, ["one"])
    assert count_redis_commands == (["EVALSHA"] if backend == "redis" else [])


async def test_shared_reads_of_an_unchanged_entry_give_one_object(backend: str) -> None:
    await async_cache.set("profile:1", {"name": "a"})
    first = await async_cache.get("profile:1", shared=True)
    second = await async_cache.get("profile:1", shared=True)
    await async_cache.set("profile:1", {"name": "b"})
    changed = await async_cache.get("profile:1", shared=True)

    assert first == second == {"name": "a"}
    assert changed == {"name": "b"}
    # Redis: identical stored bytes decode once; in memory every read is a fresh copy.
    assert (first is second) is (backend == "redis")
    assert await async_cache.get("profile:1") is not changed  # unshared reads: own copy


@dataclass(frozen=True)
class Page:
    """A cached value an outside reference can watch (a weak reference to it)."""

    items: tuple[str, ...]


async def test_a_changed_entry_does_not_keep_its_old_decoded_value(backend: str) -> None:
    # (In memory every read is its own copy: nothing to keep. Redis reads share one.)
    await async_cache.set("page:1", Page(("a",)))
    await async_cache.set("page:1:0:x", Page(("g0",)))
    old = weakref.ref(await async_cache.get("page:1", shared=True))
    _, old_generation = await async_cache.get_generational("gen:1", "page:1:", ":x")
    old_generational = weakref.ref(old_generation)
    del old_generation
    await async_cache.set("page:1", Page(("b",)))
    await async_cache.set("page:1:1:x", Page(("g1",)))
    await async_cache.increment("gen:1")

    assert await async_cache.get("page:1", shared=True) == Page(("b",))
    assert await async_cache.get_generational("gen:1", "page:1:", ":x") == (1, Page(("g1",)))
    gc.collect()
    assert old() is None  # one decoded value per key: the new bytes replaced it
    assert old_generational() is None  # and per entry across generations


@pytest.mark.parametrize("generational", [False, True])
async def test_concurrent_misses_of_a_shared_query_compute_it_once(
    backend: str, generational: bool
) -> None:
    calls: list[int] = []

    @cached_query(
        "ranked",
        ttl=60,
        key=lambda *, user: str(user),
        generation=(lambda *, user: f"ranked:{user}:gen") if generational else None,
        shared=True,
    )
    async def ranked(*, user: int) -> Page:
        calls.append(user)
        await asyncio.sleep(0.05)  # the ranking query
        return Page(("bud",))

    pages = await asyncio.gather(*(ranked(user=1) for _ in range(8)))

    # (A caller whose read came after the value was stored takes it from the cache.)
    assert calls == [1]
    assert pages == [Page(("bud",))] * 8
    assert await ranked(user=1) == Page(("bud",))  # from the cache now
    assert calls == [1]


@pytest.mark.parametrize("shared", [False, True])
async def test_a_value_stored_while_a_miss_is_computed_is_kept(backend: str, shared: bool) -> None:
    # A read missed and computes from the old row; a write meanwhile stores the new value (as
    # profile_refresh does). The slow computation must not overwrite it for a whole TTL.
    started, release = asyncio.Event(), asyncio.Event()

    async def old_row() -> dict[str, str]:
        started.set()
        await release.wait()
        return {"bio": "old"}

    filling = asyncio.create_task(async_cache.get_or_set("p", old_row, 60, shared=shared))
    await started.wait()
    await async_cache.set("p", {"bio": "new"}, 60)
    release.set()

    assert await filling == {"bio": "old"}  # its caller overlapped the write
    assert await async_cache.get("p") == {"bio": "new"}


async def test_add_stores_only_when_absent_and_never_with_a_spent_expiry(backend: str) -> None:
    assert await async_cache.add("a", 1, 60) is True
    assert await async_cache.add("a", 2, 60) is False
    assert await async_cache.get("a") == 1
    assert await async_cache.add("b", 1, 0) is False
    assert await async_cache.get("b", MISSING) is MISSING
    assert await async_cache.add("c", 1, None) is True
    assert await async_cache.get("c") == 1


async def test_concurrent_misses_of_an_unshared_query_each_get_their_own_value(
    backend: str,
) -> None:
    calls: list[int] = []

    @cached_query("mutable", ttl=60, key=lambda *, user: str(user))
    async def mutable(*, user: int) -> list[str]:
        calls.append(user)
        await asyncio.sleep(0.05)
        return ["item"]

    values = await asyncio.gather(*(mutable(user=1) for _ in range(3)))

    assert calls == [1, 1, 1]  # a mutable value is never handed to another caller
    assert len({id(value) for value in values}) == 3


async def test_reads_ahead_ride_with_the_increment_and_are_used_once(
    backend: str, count_redis_commands: list[str]
) -> None:
    await async_cache.set("profile:5", {"v": 1})
    await async_cache.set("page:5:0:x", ["p0"])
    plain, generational = CacheRead("profile:5"), CacheRead("page:5:", "gen:5", ":x")
    count_redis_commands.clear()

    with async_cache.read_ahead():
        count = await async_cache.increment("hits", reads=[plain, generational])
        ahead = count_redis_commands.copy()
        first = await async_cache.get("profile:5")
        page = await async_cache.get_generational("gen:5", "page:5:", ":x")
        after_ahead = count_redis_commands.copy()
        second = await async_cache.get("profile:5")  # used once: read again

    assert count == 1
    assert first == second == {"v": 1}
    assert page == (0, ["p0"])
    if backend == "redis":
        assert ahead == after_ahead == ["EVALSHA"]
        assert count_redis_commands == ["EVALSHA", "GET"]
    else:
        assert count_redis_commands == []


async def test_a_write_drops_the_reads_ahead(backend: str) -> None:
    await async_cache.set("profile:6", "old")

    with async_cache.read_ahead():
        await async_cache.increment("hits", reads=[CacheRead("profile:6")])
        await async_cache.set("profile:6", "new")  # the request wrote it after the read
        assert await async_cache.get("profile:6") == "new"
        await async_cache.increment("hits", reads=[CacheRead("profile:6")])
        await async_cache.delete("profile:6")
        assert await async_cache.get("profile:6") is None


async def test_reads_ahead_outside_a_scope_are_not_made(
    backend: str, count_redis_commands: list[str]
) -> None:
    await async_cache.increment("hits", reads=[CacheRead("profile:7")])
    await async_cache.get("profile:7")

    assert count_redis_commands == (["EVALSHA", "GET"] if backend == "redis" else [])


async def test_expire_sets_a_ttl_and_reports_missing_keys(backend: str) -> None:
    await async_cache.set("k", "v")

    assert await async_cache.expire("k", 1) is True
    assert await async_cache.expire("absent", 1) is False
    assert await async_cache.get("k") == "v"
    await asyncio.sleep(1.1)
    assert await async_cache.get("k") is None


async def test_delete_counts_the_keys_it_removed(backend: str) -> None:
    await async_cache.set("a", 1)
    await async_cache.set("b", 2)

    assert await async_cache.delete("a", "b", "absent") == 2
    assert await async_cache.delete() == 0
    assert await async_cache.get("a") is None


async def test_get_or_set_calls_the_factory_once(backend: str) -> None:
    calls: list[int] = []

    async def factory() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    first = await async_cache.get_or_set("g", factory, 60)
    second = await async_cache.get_or_set("g", factory, 60)

    assert first == second == {"n": 1}
    assert calls == [1]


async def test_get_or_set_caches_a_none_result(backend: str) -> None:
    calls: list[int] = []

    async def factory() -> None:
        calls.append(1)

    await async_cache.get_or_set("none", factory, 60)
    await async_cache.get_or_set("none", factory, 60)

    assert calls == [1]


async def test_cached_query_uses_prefix_default_ttl_and_per_call_ttl(backend: str) -> None:
    calls: list[tuple[int, str]] = []

    @cached_query("answers", ttl=60)
    async def answer(n: int, *, label: str = "x") -> str:
        calls.append((n, label))
        return f"{label}{n}"

    assert await answer(1, label="a") == "a1"
    assert await answer(1, label="a") == "a1"
    assert await answer(2, label="a", cache_ttl=1) == "a2"  # type: ignore[call-arg]

    assert calls == [(1, "a"), (2, "a")]
    assert await async_cache.get("answers:1:label='a'") == "a1"
    await asyncio.sleep(1.1)
    assert await async_cache.get("answers:2:label='a'") is None  # the per-call TTL
    assert await async_cache.get("answers:1:label='a'") == "a1"  # the default TTL
    assert await answer(2, label="a") == "a2"
    assert calls == [(1, "a"), (2, "a"), (2, "a")]


async def test_cached_query_with_a_key_function(backend: str) -> None:
    @cached_query("user", ttl=60, key=lambda *, user_id: str(user_id))
    async def load(*, user_id: int) -> int:
        return user_id * 10

    assert await load(user_id=7) == 70
    assert await async_cache.get("user:7") == 70


async def test_cached_query_default_key_ignores_keyword_order_and_is_a_valid_key(
    backend: str,
) -> None:
    calls: list[int] = []

    @cached_query("q", ttl=60)
    async def query(*, a: tuple[int, int], b: str) -> int:
        calls.append(1)
        return len(calls)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns about keys memcached cannot hold
        await query(a=(1, 2), b="with space")
        await query(b="with space", a=(1, 2))

    assert calls == [1]


async def test_cached_query_with_a_generation_is_dropped_when_the_counter_moves(
    backend: str,
) -> None:
    calls: list[int] = []

    @cached_query(
        "pages",
        ttl=lambda: 60,
        key=lambda *, user, page: f"{user}:{page}",
        generation=lambda *, user, page: f"pages:{user}:gen",
        shared=True,
    )
    async def pages(*, user: int, page: int) -> list[int]:
        calls.append(page)
        return [page]

    first, again = await pages(user=1, page=2), await pages(user=1, page=2)
    await async_cache.increment("pages:1:gen")
    after = await pages(user=1, page=2)

    assert (first, again, after, calls) == ([2], [2], [2], [2, 2])
    assert pages.cache_read(user=1, page=2) == CacheRead("pages:1:2:g", "pages:1:gen")
    assert await async_cache.get("pages:1:2:g0") == [2]
    assert await async_cache.get("pages:1:2:g1") == [2]


async def test_a_computation_begun_before_a_generation_bump_is_not_read_after_it(
    backend: str,
) -> None:
    # A read misses and computes from the old row; the change commits and bumps the
    # generation (as the profile's and the buds' invalidations do); the old value lands under
    # the old generation, so the next read computes the new one instead of keeping the old.
    rows = ["old"]
    started, release = asyncio.Event(), asyncio.Event()

    @cached_query("row", ttl=60, generation=lambda *, user: f"row:{user}:gen")
    async def row(*, user: int) -> str:
        value = rows[-1]
        started.set()
        await release.wait()
        return value

    reading = asyncio.create_task(row(user=1))
    await started.wait()
    rows.append("new")
    await async_cache.increment("row:1:gen")
    release.set()

    assert await reading == "old"
    assert await row(user=1) == "new"
    assert await row(user=1) == "new"  # from the cache now


async def test_a_refresh_reads_the_generation_before_it_computes(backend: str) -> None:
    # A write's refresh loads the row; another change commits and bumps the generation before
    # it stores. Its value may predate that change: it must land under the old generation.
    rows = ["old"]
    started, release = asyncio.Event(), asyncio.Event()

    @cached_query("own", ttl=60, generation=lambda *, user: f"own:{user}:gen")
    async def own(*, user: int) -> str:
        value = rows[-1]
        started.set()
        await release.wait()
        return value

    refreshing = asyncio.create_task(own.refresh(user=1))
    await started.wait()
    rows.append("new")
    await async_cache.increment("own:1:gen")
    release.set()

    assert await refreshing == "old"
    started.clear()
    assert await own(user=1) == "new"


async def test_store_overwrites_the_answer_of_the_current_generation(backend: str) -> None:
    calls: list[int] = []

    @cached_query("mine", ttl=60, key=lambda *, user: str(user), generation=lambda *, user: "g")
    async def mine(*, user: int) -> str:
        calls.append(user)
        return "computed"

    @cached_query("plain", ttl=60, key=lambda *, user: str(user))
    async def plain(*, user: int) -> str:
        calls.append(user)
        return "computed"

    assert await mine(user=1) == "computed"
    await async_cache.increment("g")
    await mine.store("refreshed", user=1)
    await plain.store("refreshed", user=1)

    assert (await mine(user=1), await plain(user=1)) == ("refreshed", "refreshed")
    assert calls == [1]
    assert await async_cache.get("mine:1:g1") == "refreshed"
    assert await async_cache.get("mine:1:g0") == "computed"


async def test_cached_query_reads_a_callable_ttl_at_call_time(backend: str) -> None:
    ttl = [60]

    @cached_query("ttl", ttl=lambda: ttl[0], key=lambda *, n: str(n))
    async def load(*, n: int) -> int:
        return n

    ttl[0] = 1
    await load(n=5)
    await asyncio.sleep(1.1)

    assert await async_cache.get("ttl:5") is None


async def test_values_written_here_are_read_by_django_cache(backend: str) -> None:
    await async_cache.set("shared:obj", {"name": "Ada"}, expire=60)
    await async_cache.set("shared:int", 41)
    await async_cache.increment("shared:int")

    assert django_cache.get("shared:obj") == {"name": "Ada"}
    assert django_cache.get("shared:int") == 42
    assert django_cache.incr("shared:int") == 43


async def test_values_written_by_django_cache_are_read_here(backend: str) -> None:
    django_cache.set("from-django:obj", ["x", 1], 60)
    django_cache.set("from-django:int", 9, 60)

    assert await async_cache.get("from-django:obj") == ["x", 1]
    assert await async_cache.increment("from-django:int", 2) == 11
    assert django_cache.get("from-django:int") == 11
    assert await async_cache.delete("from-django:obj") == 1
    assert django_cache.get("from-django:obj") is None


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_redis_keys_carry_django_prefix_and_version(backend: str) -> None:
    await async_cache.set("layout", "v")

    assert await redis_client().exists(f"{settings.CACHES['default']['KEY_PREFIX']}:1:layout") == 1
