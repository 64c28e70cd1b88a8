"""Reads ahead (no framework copied): a request's declared cache reads ride an earlier Redis
script (the rate limiter's); each key's next read takes its value once (``take``), any write
drops them (``drop``). Each read's keys are named by its owner (``musicbud.cache_keys``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar


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


# What an operation declares it reads: ``reads(request, **operation_kwargs)``.
ReadsAhead = Callable[..., Sequence[CacheRead]]
ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])
_DECLARED_ATTRIBUTE = "_fastpath_reads_ahead"


def reads_ahead(reads: ReadsAhead) -> Callable[[ViewFunc], ViewFunc]:
    """Declare the cache reads an async operation is about to make, for whatever runs before
    it to send with its own Redis script (the rate limiter, with its counter). A read not
    declared (or declared wrongly) is simply made by the view as usual: this changes cost,
    never answers. Put it under the router's decorator."""

    def declare(view_func: ViewFunc) -> ViewFunc:
        setattr(view_func, _DECLARED_ATTRIBUTE, reads)
        return view_func

    return declare


def declared_reads(view_func: Callable[..., Any]) -> ReadsAhead | None:
    """What ``reads_ahead`` declared for this operation (kept by ``functools.wraps``)."""
    reads: ReadsAhead | None = getattr(view_func, _DECLARED_ATTRIBUTE, None)
    return reads
