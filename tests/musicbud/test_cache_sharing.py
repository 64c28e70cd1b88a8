"""What the cache shares between requests: decoded immutable values (``DecodedMemo``) and the
computation of a missing one (``single_flight``)."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from musicbud.cache import DecodedMemo
from musicbud.single_flight import single_flight


def _raw(value: object) -> bytes:
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def test_unchanged_bytes_give_the_object_decoded_before() -> None:
    memo = DecodedMemo(max_entries=4, max_bytes=1024)
    first = memo.decode("a", _raw(["x"]))

    assert memo.decode("a", _raw(["x"])) is first
    assert memo.decode("b", _raw(["x"])) is not first  # another key decodes its own
    changed = memo.decode("a", _raw(["y"]))
    assert changed == ["y"]
    assert memo.decode("a", _raw(["y"])) is changed
    assert len(memo) == 2  # the key's previous value was replaced, not kept beside it


def test_integers_stored_raw_are_decoded_as_integers() -> None:
    memo = DecodedMemo(max_entries=4, max_bytes=1024)

    assert memo.decode("n", b"42") == 42


def test_the_bound_counts_stored_bytes_and_drops_the_least_recently_read() -> None:
    small = _raw("s" * 30)
    memo = DecodedMemo(max_entries=10, max_bytes=len(small) * 2)
    one = memo.decode("one", small)
    memo.decode("two", small)
    assert memo.decode("one", small) is one  # read again: "two" is now the oldest
    memo.decode("three", small)

    assert (len(memo), memo.stored_bytes) == (2, len(small) * 2)
    assert memo.decode("one", small) is one
    big = _raw("b" * 300)
    assert memo.decode("big", big) is not memo.decode("big", big)  # decoded, never kept


async def test_concurrent_callers_of_one_key_share_one_computation() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def compute() -> list[str]:
        calls.append("computed")
        await release.wait()
        return ["page"]

    callers = [asyncio.create_task(single_flight("k", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*callers)

    assert calls == ["computed"]
    assert all(result is results[0] for result in results)
    assert await single_flight("k", compute) == ["page"]  # finished: the next call computes
    assert calls == ["computed", "computed"]


async def test_other_keys_are_computed_on_their_own() -> None:
    calls: list[str] = []

    async def compute_for(key: str) -> str:
        calls.append(key)
        await asyncio.sleep(0.01)
        return key

    results = await asyncio.gather(
        single_flight("a", lambda: compute_for("a")), single_flight("b", lambda: compute_for("b"))
    )

    assert list(results) == ["a", "b"]
    assert sorted(calls) == ["a", "b"]


async def test_a_failed_computation_is_not_handed_to_the_waiters() -> None:
    attempts: list[int] = []
    release = asyncio.Event()

    async def compute() -> str:
        attempts.append(len(attempts))
        await release.wait()
        await asyncio.sleep(0.01)  # as a query does: the others ask meanwhile
        if len(attempts) == 1:
            raise ConnectionError("database gone")
        return "value"

    leader = asyncio.create_task(single_flight("f", compute))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(single_flight("f", compute)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()

    with pytest.raises(ConnectionError, match="database gone"):
        await leader
    assert await asyncio.gather(*waiters) == ["value"] * 3
    # Each waiter computed its own, at once: not queued behind one retry at a time.
    assert attempts == [0, 1, 2, 3]


async def test_a_cancelled_caller_neither_loses_the_value_for_the_others_nor_stops_it() -> None:
    attempts: list[int] = []
    release = asyncio.Event()

    async def compute() -> str:
        attempts.append(len(attempts))
        await release.wait()
        await asyncio.sleep(0.01)
        return f"value {len(attempts)}"

    leader = asyncio.create_task(single_flight("c", compute))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(single_flight("c", compute)) for _ in range(3)]
    await asyncio.sleep(0)
    leader.cancel()  # the computing request's client went away
    waiters[0].cancel()  # and one waiting request's
    await asyncio.sleep(0)
    release.set()

    with pytest.raises(asyncio.CancelledError):
        await leader
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    assert await asyncio.gather(*waiters[1:]) == ["value 2", "value 2"]
    assert attempts == [0, 1]
