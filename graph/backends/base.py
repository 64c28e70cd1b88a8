"""What a graph backend answers: the interface ``graph/queries.py`` calls, which each backend
module implements with module-level functions (mypy checks both where queries.py names them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from graph.compatibility import PairFacts
from graph.scoring import Cell
from graph.types import BudPage, BudSource, ItemRef, Recommendation, SharedItem


class GraphBackend(Protocol):
    """The graph queries, on arguments ``graph.queries`` has already checked (a known kind and
    source, a limit within bounds); every backend gives the same answers. ``hidden``: the
    people the viewer may not find (``musicbud.relationships.visibility``), left out inside
    the ranking, before a page is cut, so pages stay full and counts agree."""

    async def buds_for_user(
        self,
        *,
        user_id: int,
        kind: str | None,
        source: BudSource,
        limit: int,
        cursor: str | None,
        hidden: frozenset[int] = ...,
    ) -> BudPage: ...

    async def bud_count(
        self, *, user_id: int, kind: str | None, source: BudSource, hidden: frozenset[int] = ...
    ) -> int: ...

    async def common_items(
        self, *, user_id: int, other_id: int, kind: str | None, source: BudSource
    ) -> list[SharedItem]: ...

    async def buds_for_item(
        self,
        *,
        kind: str,
        item_id: int,
        limit: int,
        cursor: str | None,
        hidden: frozenset[int] = ...,
    ) -> BudPage: ...

    async def item_bud_count(
        self,
        *,
        kind: str,
        item_id: int,
        exclude_user_id: int | None,
        hidden: frozenset[int] = ...,
    ) -> int: ...

    async def recommendations(
        self, *, user_id: int, kind: str, limit: int, hidden: frozenset[int] = ...
    ) -> list[Recommendation]: ...

    async def pair_facts(
        self,
        *,
        user_ids: Sequence[int],
        cells: list[Cell],
        to_name: Callable[[PairFacts], set[str]],
    ) -> tuple[PairFacts, dict[str, ItemRef]]:
        """Two users' libraries and counts (``graph.compatibility``), and the items
        ``to_name`` picks from them, named."""
        ...
