"""What a graph backend answers: the interface ``graph/queries.py`` calls, which each backend
module implements with module-level functions (mypy checks both where queries.py names them)."""

from __future__ import annotations

from typing import Protocol

from graph.types import BudPage, BudSource, Recommendation, SharedItem


class GraphBackend(Protocol):
    """The graph queries, on arguments ``graph.queries`` has already checked (a known kind and
    source, a limit within bounds); every backend gives the same answers."""

    async def buds_for_user(
        self, *, user_id: int, kind: str | None, source: BudSource, limit: int, cursor: str | None
    ) -> BudPage: ...

    async def bud_count(self, *, user_id: int, kind: str | None, source: BudSource) -> int: ...

    async def common_items(
        self, *, user_id: int, other_id: int, kind: str | None, source: BudSource
    ) -> list[SharedItem]: ...

    async def buds_for_item(
        self, *, kind: str, item_id: int, limit: int, cursor: str | None
    ) -> BudPage: ...

    async def item_bud_count(
        self, *, kind: str, item_id: int, exclude_user_id: int | None
    ) -> int: ...

    async def recommendations(
        self, *, user_id: int, kind: str, limit: int
    ) -> list[Recommendation]: ...
