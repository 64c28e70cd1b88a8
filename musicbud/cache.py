"""An async cache for hot paths (``async_cache``, ``cached_query``), sharing keys and values
with Django's cache framework."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import pickle
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from fastpath import read_ahead
from fastpath.bounded import BoundedLRU
from fastpath.read_ahead import CacheRead
from fastpath.redis import Connection as FastPathConnection
from fastpath.redis import SharedConnection
from musicbud.single_flight import single_flight

P = ParamSpec("P")
T = TypeVar("T")

MISSING: Any = object()
"""What ``get_many`` returns for an absent key (``None`` may be a cached value)."""
# Pools are per event loop, and per URL so that a changed REDIS_URL (tests) takes effect.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def redis_client() -> aioredis.Redis:
    """The ``redis.asyncio`` client of the running event loop for the configured URL."""
    loop = asyncio.get_running_loop()
    url = settings.REDIS_URL or ""
    clients = _clients.setdefault(loop, {})
    client = clients.get(url)
    if client is None:
        options: dict[str, Any] = {}
        if settings.FAST_PATH and url.startswith("redis://"):
            # Plain TCP only: rediss:// and unix:// keep their own connection classes.
            options["connection_class"] = FastPathConnection
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
            # As django-redis's pool (settings.CACHES): an idle connection is PINGed before
            # use, and a command that meets a dead connection (Redis restarted) is sent again
            # on a fresh one after a short backoff; timeouts are not retried.
            health_check_interval=settings.REDIS_HEALTH_CHECK_SECONDS,
            retry=Retry(
                ExponentialWithJitterBackoff(
                    base=settings.REDIS_RETRY_BACKOFF_SECONDS, cap=settings.REDIS_RETRY_CAP_SECONDS
                ),
                settings.REDIS_RETRIES,
                supported_errors=(RedisConnectionError,),
            ),
            retry_on_error=[RedisConnectionError],
            **options,
        )
        clients[url] = client
    return client


_shared_connections: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, SharedConnection]
] = weakref.WeakKeyDictionary()


def shared_redis() -> SharedConnection:
    """The running loop's one shared (pipelined) connection to the configured Redis, made by
    ``redis_client()``'s pool (same address, credentials, database and timeouts): for a hot
    path's single command per request (the cached-read lane's script)."""
    loop = asyncio.get_running_loop()
    url = settings.REDIS_URL or ""
    connections = _shared_connections.setdefault(loop, {})
    connection = connections.get(url)
    if connection is None:
        connection = SharedConnection(
            redis_client().connection_pool.make_connection,
            timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        )
        connections[url] = connection
    return connection


async def close_redis_clients() -> None:
    """Close the current loop's clients (ASGI lifespan shutdown, test teardown)."""
    loop = asyncio.get_running_loop()
    for connection in _shared_connections.pop(loop, {}).values():
        await connection.aclose()
    for client in _clients.pop(loop, {}).values():
        await client.aclose()


@functools.cache
def _key_maker() -> tuple[Callable[[str, str, int], str], str, int]:
    # Read once from the default backend: reaching it through the ``cache`` proxy costs an
    # asgiref Local lookup per key, several per request on the hot paths.
    backend = caches["default"]
    return backend.key_func, backend.key_prefix, backend.version


@receiver(setting_changed)
def _cache_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        _key_maker.cache_clear()


def _encode(value: Any) -> bytes | int:
    # django-redis stores plain ints unpickled so that INCR works on them.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def stored_bytes(value: Any) -> bytes:
    """The bytes Redis holds for ``value`` written through this module (or django-redis)."""
    encoded = _encode(value)
    return str(encoded).encode() if isinstance(encoded, int) else encoded


def _decode(raw: bytes | str) -> Any:
    try:
        return int(raw)
    except (ValueError, TypeError):
        return pickle.loads(raw if isinstance(raw, bytes) else raw.encode())  # noqa: S301 - our own cache, written by us or django-redis


class DecodedMemo:
    """Decoded immutable values (``shared`` reads) by key, with the stored bytes they came from.

    A hot entry (a profile, a page of buds) is read on every request and changes rarely: while
    a key's stored bytes stay the same, one decoded object serves every read. One value per
    key (an entry that changed replaces the old one), the least recently used dropped first,
    bounded by entries and by stored bytes (a page of buds decodes to ~7 times its bytes).
    Per process, shared by the threads' event loops."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self._kept: BoundedLRU[str, tuple[bytes | str, Any]] = BoundedLRU(
            max_entries=max_entries, max_size=max_bytes
        )

    def decode(self, key: str, raw: bytes | str) -> Any:
        """``raw`` decoded: the object decoded before from the same bytes under ``key``, if
        still kept; else a fresh one, kept in place of the key's previous one."""
        kept = self._kept.get(key)
        if kept is not None and kept[0] == raw:
            return kept[1]
        value = _decode(raw)
        self._kept.put(key, (raw, value), len(raw))
        return value

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def stored_bytes(self) -> int:
        """The stored bytes of the values kept (what the byte bound counts)."""
        return self._kept.size


_decoded = DecodedMemo(max_entries=256, max_bytes=512 * 1024)


async def run_script(script: str, sha: str, *args: Any) -> Any:
    client = redis_client()
    try:
        return await client.evalsha(sha, *args)
    except NoScriptError:  # first use on this server (or after SCRIPT FLUSH): EVAL loads it
        return await client.eval(script, *args)


def _script_sha(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


LookupListener = Callable[[str, bool], None]

# KEYS[1] the counter; ARGV[1] delta, ARGV[2] expiry in seconds or "" for none. One command
# (a script runs atomically) instead of MULTI / SET NX / INCRBY / EXEC: the counter is created
# with its TTL only when it does not exist yet, so later increments never extend (or add) one.
# Then the reads ahead (fastpath.read_ahead), from ARGV[3] on.
_INCREMENT_SCRIPT = """
if ARGV[2] ~= '' then
    redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
end
local result = {redis.call('INCRBY', KEYS[1], ARGV[1])}
""" + read_ahead.lua_reads(first_arg=3)
# KEYS[1] a generation counter; ARGV[1], ARGV[2] the full key around the generation. The key
# is built inside the script (so this assumes one Redis, not a Cluster).
_GENERATIONAL_GET_SCRIPT = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
"""
# Stands for the generation while the key goes through make_key; it cannot occur in a key
# prefix a caller passes.
_GENERATION_MARK = "\x00"
_INCREMENT_SHA = _script_sha(_INCREMENT_SCRIPT)
_GENERATIONAL_GET_SHA = _script_sha(_GENERATIONAL_GET_SCRIPT)


class AsyncCache:
    """``get`` / ``set`` / ``increment`` / ``expire`` / ``delete`` without leaving the loop.

    With ``REDIS_URL`` set it talks to Redis through ``redis.asyncio`` (no thread hop);
    otherwise it uses the process's Django ``LocMemCache`` directly (in-memory, never blocks).
    Keys go through Django's ``make_key`` and values are encoded as django-redis encodes them
    (integers raw, everything else pickled), so a value written here is readable with
    ``django.core.cache.cache`` and vice versa."""

    def __init__(self) -> None:
        self._lookup_listeners: list[LookupListener] = []

    def add_lookup_listener(self, listener: LookupListener) -> None:
        """Be told ``(cache name, hit)`` on every ``get_or_set`` (the API counts them)."""
        if listener not in self._lookup_listeners:
            self._lookup_listeners.append(listener)

    @property
    def uses_redis(self) -> bool:
        return bool(settings.REDIS_URL)

    def make_key(self, key: str) -> str:
        """The backend's key for ``key``, as ``django.core.cache.cache.make_key`` makes it."""
        key_func, key_prefix, version = _key_maker()
        return str(key_func(key, key_prefix, version))

    async def get(self, key: str, default: Any = None, *, shared: bool = False) -> Any:
        """The value, or ``default``. ``shared``: the value is immutable, so reads of unchanged
        stored bytes may give the same object (decoded once per process, see ``DecodedMemo``)."""
        if not self.uses_redis:
            return django_cache.get(key, default)
        ahead = read_ahead.take(CacheRead(key))
        raw = ahead[1] if ahead is not None else await redis_client().get(self.make_key(key))
        if raw is None:
            return default
        return _decoded.decode(key, raw) if shared else _decode(raw)

    async def get_many(self, *keys: str, raw: Collection[str] = ()) -> list[Any]:
        """The values of ``keys`` in order, ``MISSING`` for absent ones, in one round trip
        (MGET: read at one instant). Keys in ``raw`` come back as the stored bytes, undecoded
        (values written straight through ``redis_client()``, such as token-family states)."""
        if not self.uses_redis:
            return [django_cache.get(key, MISSING) for key in keys]
        values = await redis_client().mget([self.make_key(key) for key in keys])
        return [
            MISSING if value is None else value if key in raw else _decode(value)
            for key, value in zip(keys, values, strict=True)
        ]

    async def set(self, key: str, value: Any, expire: int | None = None) -> None:
        """Store ``value``; ``expire`` in seconds, ``None`` = no expiry, ``<= 0`` = delete
        (as Django's cache treats a zero timeout; Redis would reject ``EX 0``)."""
        read_ahead.drop()
        if expire is not None and expire <= 0:
            await self.delete(key)
            return
        if not self.uses_redis:
            django_cache.set(key, value, expire)
            return
        await redis_client().set(self.make_key(key), _encode(value), ex=expire)

    async def add(self, key: str, value: Any, expire: int | None) -> bool:
        """Store ``value`` only if ``key`` is absent (SET NX); True if it was stored.
        ``expire`` as for ``set`` (``<= 0``: nothing is stored)."""
        read_ahead.drop()
        if expire is not None and expire <= 0:
            return False
        if not self.uses_redis:
            return bool(django_cache.add(key, value, expire))
        stored = await redis_client().set(self.make_key(key), _encode(value), ex=expire, nx=True)
        return bool(stored)

    async def increment(
        self,
        key: str,
        delta: int = 1,
        expire: int | None = None,
        *,
        reads: Sequence[CacheRead] = (),
    ) -> int:
        """Atomically add ``delta`` (starting from 0); ``expire`` applies when it is created.

        ``reads``: inside ``read_ahead()``, make those reads in the same round trip, for the
        request's next ``get`` / ``get_generational`` of each (in memory: ignored, no I/O).
        """
        read_ahead.drop()
        if not self.uses_redis:
            if django_cache.add(key, delta, expire):
                return delta
            try:
                return django_cache.incr(key, delta)
            except ValueError:  # expired between add and incr
                django_cache.set(key, delta, expire)
                return delta
        planned = [
            (read, parts)
            for read in (reads if read_ahead.in_scope() else ())
            if (parts := self.read_parts(read)) is not None
        ]
        result = await run_script(
            _INCREMENT_SCRIPT,
            _INCREMENT_SHA,
            1,
            self.make_key(key),
            delta,
            "" if expire is None else expire,
            *(part for _, parts in planned for part in parts),
        )
        for index, (read, _) in enumerate(planned):
            read_ahead.keep(read, result[1 + 2 * index], result[2 + 2 * index])
        return int(result[0])

    @contextlib.contextmanager
    def read_ahead(self) -> Iterator[None]:
        """A scope (one request) in which ``increment(reads=...)`` keeps what it read for the
        next ``get`` / ``get_generational`` of the same key, read in the same round trip."""
        with read_ahead.scope():
            yield

    def read_parts(self, read: CacheRead) -> tuple[str, str, str] | None:
        """(full generation key or "", full key before and after the generation); None when
        the key function does not keep keys verbatim (then the read is not made ahead)."""
        if read.generation_key is None:
            return "", self.make_key(read.key), ""
        full_prefix, mark, full_suffix = self.make_key(
            f"{read.key}{_GENERATION_MARK}{read.key_suffix}"
        ).partition(_GENERATION_MARK)
        if not mark:
            return None
        return self.make_key(read.generation_key), full_prefix, full_suffix

    async def get_generational(
        self, generation_key: str, key_prefix: str, key_suffix: str
    ) -> tuple[int, Any]:
        """The counter under ``generation_key`` (0 when absent) and the value under
        ``key_prefix + str(generation) + key_suffix`` (``MISSING`` when absent), read at one
        instant in one round trip (a script) instead of two dependent reads. The value is
        taken as immutable (``shared``, as for ``get``)."""
        if not self.uses_redis:
            generation = int(django_cache.get(generation_key, 0))
            return generation, django_cache.get(f"{key_prefix}{generation}{key_suffix}", MISSING)
        read = CacheRead(key_prefix, generation_key, key_suffix)
        ahead = read_ahead.take(read)
        if ahead is not None:
            raw_generation, raw = ahead
        else:
            parts = self.read_parts(read)
            if parts is None:  # a KEY_FUNCTION that does not keep the key verbatim: two reads
                generation = int(await self.get(generation_key, 0))
                key = f"{key_prefix}{generation}{key_suffix}"
                return generation, await self.get(key, MISSING, shared=True)
            raw_generation, raw = await run_script(
                _GENERATIONAL_GET_SCRIPT, _GENERATIONAL_GET_SHA, 1, *parts
            )
        # One decoded value per entry, whatever its generation: a new one replaces the old.
        value = MISSING if raw is None else _decoded.decode(f"{key_prefix}{key_suffix}", raw)
        return int(raw_generation), value

    def lookup_observed(self, name: str, *, hit: bool) -> None:
        """Tell the lookup listeners about a hit or miss in the named cache."""
        for listener in self._lookup_listeners:
            listener(name, hit)

    async def expire(self, key: str, seconds: int) -> bool:
        """Set a key's time to live; False when the key does not exist."""
        read_ahead.drop()
        if not self.uses_redis:
            return bool(django_cache.touch(key, seconds))
        return bool(await redis_client().expire(self.make_key(key), seconds))

    async def pop(self, key: str, default: Any = None) -> Any:
        """The value, removed in the same step (Redis ``GETDEL``): one caller at most gets it."""
        read_ahead.drop()
        if not self.uses_redis:
            # No await between the read and the delete: nothing else on the loop runs between.
            value = django_cache.get(key, MISSING)
            if value is MISSING:
                return default
            django_cache.delete(key)
            return value
        raw = await redis_client().getdel(self.make_key(key))
        return default if raw is None else _decode(raw)

    async def delete(self, *keys: str) -> int:
        read_ahead.drop()
        if not keys:
            return 0
        if not self.uses_redis:
            return sum(1 for key in keys if django_cache.delete(key))
        return int(await redis_client().delete(*(self.make_key(key) for key in keys)))

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], Awaitable[T]],
        expire: int | None,
        *,
        shared: bool = False,
    ) -> T:
        """The cached value, or ``factory()``'s, stored. ``shared`` as for ``get``; a shared
        value missing is computed once for the concurrent misses (``single_flight``)."""
        value = await self.get(key, MISSING, shared=shared)
        hit = value is not MISSING
        self.lookup_observed(cache_name(key), hit=hit)
        if hit:
            return value  # type: ignore[no-any-return]
        return await self.fill(key, factory, expire, shared=shared)

    async def fill(
        self,
        key: str,
        factory: Callable[[], Awaitable[T]],
        expire: int | None,
        *,
        shared: bool = False,
    ) -> T:
        """``factory()``'s value, stored under ``key`` unless a value was stored there while it
        was computed (a miss's second half): a write's refresh (``CachedQuery.refresh``) is not
        overwritten by a computation that began before the write. A read invalidated by
        deleting its key could keep a value computed before the deletion (a miss that stored
        after it first): such reads take a generation, which a change bumps, so a computation
        that began before the change stores where nothing reads. ``shared``: the value is
        immutable, so concurrent misses of ``key`` compute it once (``single_flight``)."""

        async def compute() -> T:
            computed = await factory()
            await self.add(key, computed, expire)
            return computed

        return await (single_flight(key, compute) if shared else compute())


async_cache = AsyncCache()


def cache_name(key: str) -> str:
    """The name of the cache a key or prefix belongs to, its first part ("profile:2:12" ->
    "profile"): the lookups' metric label, so a bounded set."""
    return key.split(":", 1)[0]


def _default_suffix(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A key suffix from the call's arguments: keyword order does not matter, and a suffix a
    cache key cannot hold (spaces, control characters, too long) is replaced by its hash."""
    parts = [repr(arg) for arg in args]
    parts += [f"{name}={value!r}" for name, value in sorted(kwargs.items())]
    suffix = ":".join(parts)
    if len(suffix) > 150 or any(ord(char) < 33 or ord(char) == 127 for char in suffix):
        return "h" + hashlib.sha256(suffix.encode()).hexdigest()
    return suffix


class CachedQuery(Generic[P, T]):
    """An async query whose result is cached: see :func:`cached_query`."""

    def __init__(
        self,
        func: Callable[P, Awaitable[T]],
        *,
        prefix: str,
        ttl: int | Callable[[], int],
        key: Callable[..., str] | None,
        generation: Callable[..., str] | None,
        shared: bool,
    ) -> None:
        functools.update_wrapper(self, func)
        self._func = func
        self._prefix, self._ttl, self._key = prefix, ttl, key
        self._generation, self._shared = generation, shared

    def cache_read(self, *args: P.args, **kwargs: P.kwargs) -> CacheRead:
        """The cache read a call with these arguments makes (for reading it ahead)."""
        suffix = self._key(*args, **kwargs) if self._key else _default_suffix(args, kwargs)
        if self._generation is None:
            return CacheRead(f"{self._prefix}:{suffix}")
        # The generation ends the key: "<prefix>:<suffix>:g<generation>".
        return CacheRead(f"{self._prefix}:{suffix}:g", self._generation(*args, **kwargs))

    def _expire(self) -> int:
        return self._ttl() if callable(self._ttl) else self._ttl

    async def _current_key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """This call's key under the generation its counter holds now."""
        read = self.cache_read(*args, **kwargs)
        if read.generation_key is None:
            return read.key
        return f"{read.key}{int(await async_cache.get(read.generation_key, 0))}"

    async def refresh(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """The answer computed afresh and stored over what is cached (after a write, so the
        writer reads its own change). The generation is read before the computation: a
        change that commits meanwhile bumps it, so this value, which may predate that
        change, lands where nothing reads."""
        key = await self._current_key(*args, **kwargs)
        value = await self._func(*args, **kwargs)
        await async_cache.set(key, value, self._expire())
        return value

    async def store(self, value: T, /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Store ``value`` as the answer to this call under the current generation, over what
        is cached. Only for a value known to be current: one computed before a change would
        land under the change's generation (``refresh`` reads the generation first)."""
        await async_cache.set(await self._current_key(*args, **kwargs), value, self._expire())

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        call_ttl = kwargs.pop("cache_ttl", None)
        expire = call_ttl if isinstance(call_ttl, int) else self._expire()
        read = self.cache_read(*args, **kwargs)
        if read.generation_key is None:
            return await async_cache.get_or_set(
                read.key, lambda: self._func(*args, **kwargs), expire, shared=self._shared
            )
        generation, value = await async_cache.get_generational(
            read.generation_key, read.key, read.key_suffix
        )
        async_cache.lookup_observed(cache_name(self._prefix), hit=value is not MISSING)
        if value is not MISSING:
            return value  # type: ignore[no-any-return]
        return await async_cache.fill(
            f"{read.key}{generation}",
            lambda: self._func(*args, **kwargs),
            expire,
            shared=self._shared,
        )


def cached_query(
    prefix: str,
    *,
    ttl: int | Callable[[], int],
    key: Callable[..., str] | None = None,
    generation: Callable[..., str] | None = None,
    shared: bool = False,
) -> Callable[[Callable[P, Awaitable[T]]], CachedQuery[P, T]]:
    """Cache an async query's result under ``prefix:<key>`` for ``ttl`` seconds (or what a
    callable ``ttl`` answers at call time; a keyword ``cache_ttl`` overrides it per call).

    ``key`` builds the key suffix from the call's arguments (default: their ``repr``). With
    ``generation`` (the key of a counter, from the arguments) the entry is read together with
    the counter and stored under its value, so bumping the counter drops every such entry at
    once. ``shared`` as for ``AsyncCache.get``: the result is immutable by contract, so the
    calls that miss the same entry at once share one computation (``single_flight``).
    """

    def decorate(func: Callable[P, Awaitable[T]]) -> CachedQuery[P, T]:
        return CachedQuery(
            func, prefix=prefix, ttl=ttl, key=key, generation=generation, shared=shared
        )

    return decorate
