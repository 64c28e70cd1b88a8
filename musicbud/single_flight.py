"""Concurrent callers of one event loop that ask for the same value while it is being
computed share one computation (the cache's misses of an immutable entry: 64 cold readers of
a page of buds make one ranking query, not 64)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_CANCELLED: Any = object()
"""A flight's result when its caller was cancelled: the waiters start a new one."""
_FAILED: Any = object()
"""A flight's result when its computation raised: each waiter computes its own."""
_flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[Any]]] = (
    weakref.WeakKeyDictionary()
)


async def single_flight(key: str, compute: Callable[[], Awaitable[T]]) -> T:
    """``compute()``'s value, computed once for the callers of one event loop that ask for the
    same ``key`` while it runs: the first computes (in its own task and context: the value
    must depend on ``key`` only), the others wait and get the same object (so only for
    immutable values). ``compute`` must not ask for its own key (it would wait for itself).

    A failure is each caller's own, never handed to another request: when the computation
    raises, every waiter computes its own at once (a failing database is not queued behind
    one caller at a time); when its caller is cancelled (its client gone), the waiters start
    a new shared computation."""
    loop = asyncio.get_running_loop()
    flights = _flights.setdefault(loop, {})
    while (pending := flights.get(key)) is not None:
        # shield: a waiter cancelled (its client gone) does not cancel the computation.
        value = await asyncio.shield(pending)
        if value is _FAILED:
            return await compute()
        if value is not _CANCELLED:
            return value  # type: ignore[no-any-return]
    flight: asyncio.Future[Any] = loop.create_future()
    flights[key] = flight
    outcome: Any = _CANCELLED
    try:
        outcome = await compute()
    except Exception:
        outcome = _FAILED
        raise
    else:
        return outcome  # type: ignore[no-any-return]
    finally:
        del flights[key]
        flight.set_result(outcome)
