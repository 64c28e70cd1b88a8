"""An async cache for hot paths, sharing keys and values with Django's cache framework.

With ``REDIS_URL`` set it talks to Redis through ``redis.asyncio`` (no thread hop); otherwise
it uses the process's Django ``LocMemCache`` directly (in-memory, never blocks). Keys go
through Django's ``make_key`` and values are encoded as django-redis encodes them (integers
raw, everything else pickled), so a value written here is readable with
``django.core.cache.cache`` and vice versa.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import pickle
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

P = ParamSpec("P")
T = TypeVar("T")

MISSING: Any = object()
"""What ``get_many`` returns for an absent key (``None`` may be a cached value)."""
# Pools are per event loop, and per URL so that a changed REDIS_URL (tests) takes effect.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


class _Connection(aioredis.Connection):
    """redis-py's TCP connection, with the write bounded by ``asyncio.timeout`` instead of
    ``asyncio.wait_for``, which wraps every command's write in a new Task (an extra task and
    loop turn per command on the hot paths). Same timeout, same errors, same disconnects:
    the body is redis-py 8's ``send_packed_command`` with that one change."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            writer = cast(asyncio.StreamWriter, self._writer)  # connected above
            async with asyncio.timeout(self.socket_timeout or None):
                writer.writelines(command)
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as e:
            await self.disconnect(nowait=True)
            if len(e.args) == 1:
                err_no, errmsg = "UNKNOWN", e.args[0]
            else:
                err_no, errmsg = e.args[0], e.args[1]
            raise RedisConnectionError(f"Error {err_no} while writing to socket. {errmsg}.") from e
        except BaseException:
            # As redis-py: a half-sent command cannot be resumed; drop the connection.
            await self.disconnect(nowait=True)
            raise


def redis_client() -> aioredis.Redis:
    """The ``redis.asyncio`` client of the running event loop for the configured URL."""
    loop = asyncio.get_running_loop()
    url = settings.REDIS_URL or ""
    clients = _clients.setdefault(loop, {})
    client = clients.get(url)
    if client is None:
        options: dict[str, Any] = {}
        if url.startswith("redis://"):  # plain TCP (rediss:// and unix:// keep their class)
            options["connection_class"] = _Connection
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
            **options,
        )
        clients[url] = client
    return client


async def close_redis_clients() -> None:
    """Close the current loop's clients (ASGI lifespan shutdown, test teardown)."""
    loop = asyncio.get_running_loop()
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


def _decode(raw: bytes | str) -> Any:
    try:
        return int(raw)
    except (ValueError, TypeError):
        return pickle.loads(raw if isinstance(raw, bytes) else raw.encode())  # noqa: S301 - our own cache, written by us or django-redis


# Decoded immutable values by their stored bytes: a hot entry (a profile, a page of buds) is
# read on every request and changes rarely; identical bytes decode to an equal value, so one
# object serves until the entry changes (then its bytes differ). Bounded; per process.
_SHARED_MAX = 256
_shared: OrderedDict[bytes | str, Any] = OrderedDict()


def _decode_shared(raw: bytes | str) -> Any:
    value = _shared.get(raw, MISSING)
    if value is MISSING:
        value = _decode(raw)
        _shared[raw] = value
        if len(_shared) > _SHARED_MAX:
            with contextlib.suppress(KeyError):  # another thread's loop evicted it first
                _shared.popitem(last=False)
    return value


async def _run_script(script: str, sha: str, *args: Any) -> Any:
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
# Then the reads ahead (CacheRead), three ARGVs each: the full generation key or "", and the
# full key before and after the generation; each answers its generation ("" without one)
# and the value. Those keys are built inside the script (one Redis, not a Cluster).
_INCREMENT_SCRIPT = """
if ARGV[2] ~= '' then
    redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
end
local result = {redis.call('INCRBY', KEYS[1], ARGV[1])}
for i = 3, #ARGV, 3 do
    local generation = ''
    if ARGV[i] ~= '' then
        generation = redis.call('GET', ARGV[i]) or '0'
    end
    result[#result + 1] = generation
    result[#result + 1] = redis.call('GET', ARGV[i + 1] .. generation .. ARGV[i + 2])
end
return result
"""
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


@dataclass(frozen=True, slots=True)
class CacheRead:
    """A read a request is about to make: ``get(key)``, or with ``generation_key``
    ``get_generational(generation_key, key, key_suffix)``."""

    key: str
    generation_key: str | None = None
    key_suffix: str = ""


# The values read ahead for this request (see AsyncCache.read_ahead), by CacheRead, as stored
# bytes: a get consumes its entry once; any write through this cache drops them all.
_read_ahead: ContextVar[dict[CacheRead, tuple[Any, Any]] | None] = ContextVar(
    "musicbud_cache_read_ahead", default=None
)


def _read_ahead_take(read: CacheRead) -> tuple[Any, Any] | None:
    values = _read_ahead.get()
    return None if values is None else values.pop(read, None)


def _read_ahead_drop() -> None:
    values = _read_ahead.get()
    if values:
        values.clear()


class AsyncCache:
    """``get`` / ``set`` / ``increment`` / ``expire`` / ``delete`` without leaving the loop."""

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
        """The value, or ``default``. ``shared``: the value is immutable, so identical stored
        bytes may give the same object (decoded once per process, see ``_decode_shared``)."""
        if not self.uses_redis:
            return django_cache.get(key, default)
        ahead = _read_ahead_take(CacheRead(key))
        raw = ahead[1] if ahead is not None else await redis_client().get(self.make_key(key))
        if raw is None:
            return default
        return _decode_shared(raw) if shared else _decode(raw)

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
        _read_ahead_drop()
        if expire is not None and expire <= 0:
            await self.delete(key)
            return
        if not self.uses_redis:
            django_cache.set(key, value, expire)
            return
        await redis_client().set(self.make_key(key), _encode(value), ex=expire)

    async def add(self, key: str, value: Any, expire: int) -> bool:
        """Store ``value`` only if ``key`` is absent (SET NX); True if it was stored."""
        _read_ahead_drop()
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
        _read_ahead_drop()
        if not self.uses_redis:
            if django_cache.add(key, delta, expire):
                return delta
            try:
                return django_cache.incr(key, delta)
            except ValueError:  # expired between add and incr
                django_cache.set(key, delta, expire)
                return delta
        values = _read_ahead.get()
        planned = [
            (read, parts)
            for read in (reads if values is not None else ())
            if (parts := self._read_parts(read)) is not None
        ]
        result = await _run_script(
            _INCREMENT_SCRIPT,
            _INCREMENT_SHA,
            1,
            self.make_key(key),
            delta,
            "" if expire is None else expire,
            *(part for _, parts in planned for part in parts),
        )
        if values is not None:
            for index, (read, _) in enumerate(planned):
                values[read] = (result[1 + 2 * index], result[2 + 2 * index])
        return int(result[0])

    @contextlib.contextmanager
    def read_ahead(self) -> Iterator[None]:
        """A scope (one request) in which ``increment(reads=...)`` keeps what it read for the
        next ``get`` / ``get_generational`` of the same key, read in the same round trip."""
        token = _read_ahead.set({})
        try:
            yield
        finally:
            _read_ahead.reset(token)

    def _read_parts(self, read: CacheRead) -> tuple[str, str, str] | None:
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
        ahead = _read_ahead_take(read)
        if ahead is not None:
            raw_generation, raw = ahead
        else:
            parts = self._read_parts(read)
            if parts is None:  # a KEY_FUNCTION that does not keep the key verbatim: two reads
                generation = int(await self.get(generation_key, 0))
                value = await self.get(f"{key_prefix}{generation}{key_suffix}", MISSING)
                return generation, value
            raw_generation, raw = await _run_script(
                _GENERATIONAL_GET_SCRIPT, _GENERATIONAL_GET_SHA, 1, *parts
            )
        return int(raw_generation), MISSING if raw is None else _decode_shared(raw)

    def lookup_observed(self, name: str, *, hit: bool) -> None:
        """Tell the lookup listeners about a hit or miss in the named cache."""
        for listener in self._lookup_listeners:
            listener(name, hit)

    async def expire(self, key: str, seconds: int) -> bool:
        """Set a key's time to live; False when the key does not exist."""
        _read_ahead_drop()
        if not self.uses_redis:
            return bool(django_cache.touch(key, seconds))
        return bool(await redis_client().expire(self.make_key(key), seconds))

    async def pop(self, key: str, default: Any = None) -> Any:
        """The value, removed in the same step (Redis ``GETDEL``): one caller at most gets it."""
        _read_ahead_drop()
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
        _read_ahead_drop()
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
        """The cached value, or ``factory()``'s, stored. ``shared`` as for ``get``."""
        value = await self.get(key, MISSING, shared=shared)
        hit = value is not MISSING
        # The cache's name is the key's prefix ("profile:12" -> "profile"): bounded labels.
        self.lookup_observed(key.split(":", 1)[0], hit=hit)
        if hit:
            return value  # type: ignore[no-any-return]
        value = await factory()
        await self.set(key, value, expire)
        return value


async_cache = AsyncCache()


def _default_suffix(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A key suffix from the call's arguments: keyword order does not matter, and a suffix a
    cache key cannot hold (spaces, control characters, too long) is replaced by its hash."""
    parts = [repr(arg) for arg in args]
    parts += [f"{name}={value!r}" for name, value in sorted(kwargs.items())]
    suffix = ":".join(parts)
    if len(suffix) > 150 or any(ord(char) < 33 or ord(char) == 127 for char in suffix):
        return "h" + hashlib.sha256(suffix.encode()).hexdigest()
    return suffix


def cached_query(
    prefix: str, *, ttl: int, key: Callable[..., str] | None = None
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Cache an async query's result under ``prefix:<key>`` for ``ttl`` seconds.

    The wrapped function accepts an extra keyword ``cache_ttl`` to override the TTL per call.
    ``key`` builds the key suffix from the call's arguments (default: their ``repr``).
    """

    def decorate(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            call_ttl = kwargs.pop("cache_ttl", None)
            suffix = key(*args, **kwargs) if key else _default_suffix(args, kwargs)
            expire = call_ttl if isinstance(call_ttl, int) else ttl
            return await async_cache.get_or_set(
                f"{prefix}:{suffix}", lambda: func(*args, **kwargs), expire
            )

        return wrapper

    return decorate
