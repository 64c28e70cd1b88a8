"""Reads ahead (no framework copied): a request's declared cache reads ride an earlier Redis
script (the rate limiter's); each key's next read takes its value once (``take``), any write
drops them (``drop``). Each read's keys are named by its owner (``musicbud.cache_keys``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheRead:
    """One cached read: the value under ``key``, or with ``generation_key`` the value under
    ``key + str(generation) + key_suffix`` where the generation counter says."""

    key: str
    generation_key: str | None = None
    key_suffix: str = ""


# Appended to a script whose ARGVs up to ARGS_BEFORE_READS are its own and whose table
# ``result`` is its answer: three ARGVs per read (the full generation key or "", the full key
# before and after the generation), each answering its generation ("" without one) and the
# value. The keys are built inside the script (one Redis, not a Cluster).
ARGS_PER_READ = 3
LUA_READS = """
for i = {first}, #ARGV, 3 do
    local generation = ''
    if ARGV[i] ~= '' then
        generation = redis.call('GET', ARGV[i]) or '0'
    end
    result[#result + 1] = generation
    result[#result + 1] = redis.call('GET', ARGV[i + 1] .. generation .. ARGV[i + 2])
end
return result
"""

# This request's values read ahead, by CacheRead, as stored bytes (generation, value).
_values: ContextVar[dict[CacheRead, tuple[Any, Any]] | None] = ContextVar(
    "fastpath_read_ahead", default=None
)


def lua_reads(*, first_arg: int) -> str:
    """The script tail making the reads, whose ARGVs start at ``first_arg``."""
    return LUA_READS.format(first=first_arg)


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """One request's scope: values read ahead inside it are kept for its own reads only."""
    token = _values.set({})
    try:
        yield
    finally:
        _values.reset(token)


def in_scope() -> bool:
    return _values.get() is not None


def keep(read: CacheRead, generation: Any, value: Any) -> None:
    values = _values.get()
    if values is not None:
        values[read] = (generation, value)


def take(read: CacheRead) -> tuple[Any, Any] | None:
    """The (generation, stored value) read ahead for ``read``, once; None if none."""
    values = _values.get()
    return None if values is None else values.pop(read, None)


def drop() -> None:
    """Forget every value read ahead (a write through the cache may have changed them)."""
    values = _values.get()
    if values:
        values.clear()
