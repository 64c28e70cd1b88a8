"""The one graph query interface: ``GRAPH_BACKEND`` picks the backend (sql | neo4j). SQL answers
when Neo4j cannot be reached (``GRAPH_FALLBACK_TO_SQL``) or the user's own writes are not all
projected yet (same answers)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings

from graph.backends import neo4j, sql
from graph.backends.base import GraphBackend
from graph.compatibility import CellScore, compatibility, keys_to_name, shared_items
from graph.projection import graph_errors, user_projection_pending
from graph.scoring import cells_for
from graph.types import BudPage, BudSource, ItemRef, Recommendation, SharedItem
from musicbud.errors import InvalidInput, ServiceUnavailable
from musicbud.models import ItemKind

logger = logging.getLogger(__name__)

T = TypeVar("T")
Query = Callable[[GraphBackend], Awaitable[T]]

# Each backend module implements the interface; these annotations make mypy check it.
SQL_BACKEND: GraphBackend = sql
NEO4J_BACKEND: GraphBackend = neo4j


def _kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    if kind not in ItemKind.values:
        raise InvalidInput(
            f"kind must be one of {', '.join(ItemKind.values)}", details=[{"field": "kind"}]
        )
    return kind


def _item_kind(kind: str) -> str:
    checked = _kind(kind)
    assert checked is not None  # noqa: S101 - a str in gives a str out
    return checked


def _source(source: BudSource | str) -> BudSource:
    try:
        return BudSource(source)
    except ValueError:
        raise InvalidInput(
            f"source must be one of {', '.join(s.value for s in BudSource)}",
            details=[{"field": "source"}],
        ) from None


async def _answer(name: str, query: Query[T], *, user_id: int | None = None) -> T:
    """``query`` asked of the configured backend, or of SQL when Neo4j cannot answer it as
    current: ``user_id``'s own writes not all projected, or the graph store unreachable."""
    if settings.GRAPH_BACKEND != "neo4j":
        return await query(SQL_BACKEND)
    if user_id is not None and await user_projection_pending(user_id=user_id):
        # Read your own writes: the graph lacks some of this user's committed changes (the
        # projector is behind or failing), and an answer built from it would be cached as
        # if it were current. SQL has them; the graph is used again once it has caught up.
        return await query(SQL_BACKEND)
    try:
        return await query(NEO4J_BACKEND)
    except graph_errors() as exc:
        if not settings.GRAPH_FALLBACK_TO_SQL:
            raise ServiceUnavailable("the graph store is unavailable") from exc
        logger.warning("graph store unreachable; answering from SQL", extra={"query": name})
        return await query(SQL_BACKEND)


async def buds_for_user(
    *,
    user_id: int,
    kind: str | None,
    source: BudSource,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    """People whose taste is most like this user's, best first, with what explains it (but
    ``hidden``, the people they may not find)."""
    checked_kind, checked_source = _kind(kind), _source(source)
    return await _answer(
        "buds_for_user",
        lambda backend: backend.buds_for_user(
            user_id=user_id,
            kind=checked_kind,
            source=checked_source,
            limit=limit,
            cursor=cursor,
            hidden=hidden,
        ),
        user_id=user_id,
    )


async def bud_count(
    *, user_id: int, kind: str | None, source: BudSource, hidden: frozenset[int] = frozenset()
) -> int:
    """How many buds ``buds_for_user`` pages through in all, for the same arguments."""
    checked_kind, checked_source = _kind(kind), _source(source)
    return await _answer(
        "bud_count",
        lambda backend: backend.bud_count(
            user_id=user_id, kind=checked_kind, source=checked_source, hidden=hidden
        ),
        user_id=user_id,
    )


async def common_items(
    *, user_id: int, other_id: int, kind: str | None, source: BudSource = BudSource.ALL
) -> list[SharedItem]:
    """What two users share in the taste ``source`` compares (default: any), heaviest first."""
    checked_kind, checked_source = _kind(kind), _source(source)
    return await _answer(
        "common_items",
        lambda backend: backend.common_items(
            user_id=user_id, other_id=other_id, kind=checked_kind, source=checked_source
        ),
        user_id=user_id,
    )


async def buds_for_item(
    *,
    kind: str,
    item_id: int,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    """People who like, rank or play this item, those for whom it means most first (but
    ``hidden``)."""
    checked = _item_kind(kind)
    return await _answer(
        "buds_for_item",
        lambda backend: backend.buds_for_item(
            kind=checked, item_id=item_id, limit=limit, cursor=cursor, hidden=hidden
        ),
    )


async def item_bud_count(
    *,
    kind: str,
    item_id: int,
    exclude_user_id: int | None = None,
    hidden: frozenset[int] = frozenset(),
) -> int:
    """How many people ``buds_for_item`` pages through in all (but ``exclude_user_id``)."""
    checked = _item_kind(kind)
    return await _answer(
        "item_bud_count",
        lambda backend: backend.item_bud_count(
            kind=checked, item_id=item_id, exclude_user_id=exclude_user_id, hidden=hidden
        ),
    )


async def recommendations(
    *, user_id: int, kind: str, limit: int, hidden: frozenset[int] = frozenset()
) -> list[Recommendation]:
    """Items of a kind that the user's top buds (but ``hidden``) have and the user does not,
    ranked."""
    checked = _item_kind(kind)
    return await _answer(
        "recommendations",
        lambda backend: backend.recommendations(
            user_id=user_id, kind=checked, limit=limit, hidden=hidden
        ),
        user_id=user_id,
    )


@dataclass(frozen=True, slots=True)
class CompatibilityAnswer:
    """``graph.compatibility.Compatibility`` with its items named."""

    score: int
    breakdown: list[CellScore]
    shared: list[SharedItem]
    for_first: list[ItemRef]
    for_second: list[ItemRef]


async def compatibility_answer(
    backend: GraphBackend, *, first: int, second: int
) -> CompatibilityAnswer:
    cells = cells_for(source=BudSource.ALL, kind=None)
    facts, refs = await backend.pair_facts(
        user_ids=[first, second],
        cells=cells,
        to_name=lambda facts: keys_to_name(facts, first=first, second=second),
    )
    names = {key: (ref.name, str(ref.public_id)) for key, ref in refs.items()}
    answer = compatibility(facts, first=first, second=second, names=names)
    return CompatibilityAnswer(
        score=answer.score,
        breakdown=answer.breakdown,
        shared=shared_items(answer.shared, refs),
        for_first=[refs[key] for key in answer.for_first if key in refs],
        for_second=[refs[key] for key in answer.for_second if key in refs],
    )


async def compatibility_of(*, first: int, second: int) -> CompatibilityAnswer:
    """How compatible two people's taste is, 0-100, and what explains it (symmetric: the
    same score whichever is first)."""
    return await _answer(
        "compatibility",
        lambda backend: compatibility_answer(backend, first=first, second=second),
        user_id=first,
    )
