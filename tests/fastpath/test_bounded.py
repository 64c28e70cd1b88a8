"""The per-process memos' map: least recently used first, bounded by entries and by size."""

from __future__ import annotations

from fastpath.bounded import BoundedLRU


def test_a_value_is_found_until_replaced() -> None:
    lru: BoundedLRU[str, str] = BoundedLRU(max_entries=4, max_size=100)
    lru.put("a", "first", 10)
    assert lru.get("a") == "first"
    assert lru.get("b") is None

    lru.put("a", "second", 30)  # replaces: one entry, its new size counted once

    assert (lru.get("a"), len(lru), lru.size) == ("second", 1, 30)


def test_the_least_recently_used_goes_first_when_entries_run_out() -> None:
    lru: BoundedLRU[str, int] = BoundedLRU(max_entries=2, max_size=100)
    lru.put("a", 1, 1)
    lru.put("b", 2, 1)
    assert lru.get("a") == 1  # a is now the most recently used
    lru.put("c", 3, 1)

    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert (len(lru), lru.size) == (2, 2)


def test_sizes_are_bounded_and_a_value_larger_than_the_bound_is_not_kept() -> None:
    lru: BoundedLRU[str, str] = BoundedLRU(max_entries=10, max_size=100)
    lru.put("one", "x", 40)
    lru.put("two", "y", 40)
    lru.put("three", "z", 40)  # 120 > 100: the oldest goes

    assert (lru.get("one"), lru.get("two"), lru.get("three")) == (None, "y", "z")
    assert lru.size == 80
    lru.put("two", "huge", 101)  # too large to keep: and the value it replaces is gone too

    assert (lru.get("two"), lru.get("three"), len(lru), lru.size) == (None, "z", 1, 40)
