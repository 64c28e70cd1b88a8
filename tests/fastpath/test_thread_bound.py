"""The hop-free handler lends at most ``max_threads`` request threads at once: a request that
needs one while all are lent waits for the next given back, its calls run there in order, and
each request still has one thread to itself."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async

from fastpath.handler import RequestExecutor, RequestThreadPool


async def one_request(
    pool: RequestThreadPool, gate: asyncio.Event, seen: list[tuple[str, int]], name: str
) -> None:
    """A request making two thread-sensitive calls with a wait between them."""
    executor = RequestExecutor(pool)
    try:
        async with ThreadSensitiveContext(executor=executor):
            ident = threading.get_ident
            seen.append((name, await sync_to_async(ident, thread_sensitive=True)()))
            await gate.wait()
            seen.append((name, await sync_to_async(ident, thread_sensitive=True)()))
    finally:
        executor.release()


async def test_a_request_waits_for_a_thread_when_all_are_lent() -> None:
    pool = RequestThreadPool(max_idle=4, max_threads=1)
    first_gate, second_gate = asyncio.Event(), asyncio.Event()
    seen: list[tuple[str, int]] = []
    first = asyncio.create_task(one_request(pool, first_gate, seen, "first"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(one_request(pool, second_gate, seen, "second"))
    await asyncio.sleep(0.05)

    assert [name for name, _ in seen] == ["first"]  # the second waits for the one thread
    second_gate.set()
    first_gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)

    assert [name for name, _ in seen] == ["first", "first", "second", "second"]
    assert len({thread for _, thread in seen}) == 1
    assert pool.created == 1
    assert (pool.lent, pool.idle) == (0, 1)
    await pool.close()


async def test_a_request_that_ends_while_waiting_gives_nothing_back() -> None:
    pool = RequestThreadPool(max_idle=4, max_threads=1)
    gate = asyncio.Event()
    seen: list[tuple[str, int]] = []
    holder = asyncio.create_task(one_request(pool, gate, seen, "holder"))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(one_request(pool, asyncio.Event(), seen, "waiting"))
    await asyncio.sleep(0.05)

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    await asyncio.wait_for(holder, 5)

    assert [name for name, _ in seen] == ["holder", "holder"]
    assert (pool.lent, pool.idle, pool.created) == (0, 1, 1)
    await pool.close()


async def test_without_a_bound_every_concurrent_request_gets_a_thread() -> None:
    pool = RequestThreadPool(max_idle=4)
    gate = asyncio.Event()
    seen: list[tuple[str, int]] = []
    tasks = [asyncio.create_task(one_request(pool, gate, seen, str(i))) for i in range(3)]
    await asyncio.sleep(0.1)
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)

    assert pool.created == 3
    assert len({thread for _, thread in seen}) == 3
    await pool.close()
