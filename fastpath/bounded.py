"""A least-recently-used map bounded by its number of entries and by their sizes, for the
per-process memos of the hot paths (decoded cache entries, rendered bodies)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """At most ``max_entries`` values whose sizes (the caller's measure, such as bytes) add
    up to at most ``max_size``; the least recently used go first, and a value larger than
    ``max_size`` is never kept. Thread-safe: the event loops of other threads share it."""

    def __init__(self, *, max_entries: int, max_size: int) -> None:
        self.max_entries, self.max_size = max_entries, max_size
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key`` in place of any value there, dropping the least
        recently used entries beyond the bounds."""
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            if size <= self.max_size:
                self._entries[key] = (value, size)
                self._size += size
            while len(self._entries) > self.max_entries or self._size > self.max_size:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The sizes of the values kept, added up (what ``max_size`` bounds)."""
        return self._size
