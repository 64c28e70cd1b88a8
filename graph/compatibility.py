"""Compatibility of two people: the bud score made symmetric and scaled to 0-100, with what
explains it (graph/README.md, "Compatibility"). Both backends hand it the same integer facts
(``PairFacts``); everything here is arithmetic on them, so both answer alike.

With ``x_u[c, i] = sqrt(w_c * iw_i / n_u,c)`` for each item ``i`` of user ``u`` in cell ``c``
(``w_c`` the cell's weight, ``iw_i`` the item's weight of the bud score, ``n_u,c`` the size of
``u``'s library in the cell), the dot product ``D(a, b) = sum x_a * x_b`` is exactly ``W_a``
(``a``'s total cell weight) times ``a``'s bud score for ``b``. Compatibility is the cosine
``D(a, b) / sqrt(D(a, a) * D(b, b))`` (symmetric, 1 for identical libraries, 0 for nothing
shared), shown as ``round(100 * sqrt(cosine))``: the square root spreads the small cosines
two real libraries have (0.04 shows as 20, 0.25 as 50)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from graph.scoring import KIND_ORDER, Cell, cell_weight, item_key, item_weight
from graph.types import ItemRef, SharedItem

SHARED_LIMIT = 20
DISCOVER_LIMIT = 10


@dataclass(frozen=True, slots=True)
class PairFacts:
    """Two users' libraries per cell, each item's holder count per cell (``df``, both of them
    included) and each cell's user count."""

    libraries: dict[int, dict[Cell, set[int]]]
    df: dict[tuple[Cell, int], int]
    users: dict[Cell, int]


@dataclass(frozen=True, slots=True)
class CellScore:
    relation: str
    kind: str
    score: int


@dataclass(frozen=True, slots=True)
class Compatibility:
    """``shared`` holds item keys (``kind:id``) with their part of the cosine, heaviest first;
    ``for_first`` what the second loves that the first lacks, ``for_second`` the reverse."""

    score: int
    breakdown: list[CellScore]
    shared: list[tuple[str, float]]
    for_first: list[str]
    for_second: list[str]


def percentage(cosine: float) -> int:
    """The shown score of a cosine in [0, 1]."""
    return round(100 * math.sqrt(min(max(cosine, 0.0), 1.0)))


def _item_weight(facts: PairFacts, cell: Cell, item: int) -> float:
    df = facts.df.get((cell, item), 1)
    return item_weight(users=max(facts.users.get(cell, 0), df), df=df)


def _self_dot(facts: PairFacts, user: int, cell: Cell) -> float:
    items = facts.libraries.get(user, {}).get(cell, set())
    if not items:
        return 0.0
    return cell_weight(cell) * sum(_item_weight(facts, cell, i) for i in items) / len(items)


def _key_order(key: str, names: dict[str, tuple[str, str]]) -> tuple[int, str, str]:
    kind = key.partition(":")[0]
    name, public_id = names.get(key, ("", ""))
    return (KIND_ORDER.index(kind), name, public_id)


@dataclass(frozen=True, slots=True)
class _Parts:
    score: int
    breakdown: list[CellScore]
    # Each shared item key's part of the cosine (summed over its cells).
    shared: dict[str, float]


def _parts(facts: PairFacts, *, first: int, second: int) -> _Parts:
    mine = facts.libraries.get(first, {})
    theirs = facts.libraries.get(second, {})
    cells = sorted(set(mine) | set(theirs))
    norm = math.sqrt(
        sum(_self_dot(facts, first, c) for c in cells)
        * sum(_self_dot(facts, second, c) for c in cells)
    )
    shared: dict[str, float] = {}
    breakdown: list[CellScore] = []
    dot = 0.0
    for cell in cells:
        a, b = mine.get(cell, set()), theirs.get(cell, set())
        if not a or not b:
            continue
        size = math.sqrt(len(a) * len(b))
        cell_dot = 0.0
        for item in a & b:
            value = cell_weight(cell) * _item_weight(facts, cell, item) / size
            cell_dot += value
            if norm > 0:
                key = item_key(cell[1], item)
                shared[key] = shared.get(key, 0.0) + value / norm
        dot += cell_dot
        cell_norm = math.sqrt(_self_dot(facts, first, cell) * _self_dot(facts, second, cell))
        breakdown.append(
            CellScore(
                relation=cell[0],
                kind=cell[1],
                score=percentage(cell_dot / cell_norm) if cell_norm > 0 else 0,
            )
        )
    return _Parts(
        score=percentage(dot / norm) if norm > 0 else 0, breakdown=breakdown, shared=shared
    )


def compatibility(
    facts: PairFacts, *, first: int, second: int, names: dict[str, tuple[str, str]]
) -> Compatibility:
    """Compatibility of ``first`` and ``second``; ``names`` gives the (name, public id) of
    the keys ``keys_to_name`` lists, which order ties the same way on every backend."""
    parts = _parts(facts, first=first, second=second)
    ordered = sorted(
        ((key, round(weight, 9)) for key, weight in parts.shared.items()),
        key=lambda row: (-row[1], *_key_order(row[0], names)),
    )
    return Compatibility(
        score=parts.score,
        breakdown=parts.breakdown,
        shared=ordered[:SHARED_LIMIT],
        for_first=_discover(facts, lover=second, lacking=first, names=names),
        for_second=_discover(facts, lover=first, lacking=second, names=names),
    )


def _loved(facts: PairFacts, user: int) -> dict[str, float]:
    """Each item key of ``user`` with how much it says about them (summed over cells)."""
    loved: dict[str, float] = {}
    for cell, items in facts.libraries.get(user, {}).items():
        for item in items:
            key = item_key(cell[1], item)
            value = cell_weight(cell) * _item_weight(facts, cell, item) / len(items)
            loved[key] = loved.get(key, 0.0) + value
    return loved


def _held_keys(facts: PairFacts, user: int) -> set[str]:
    return {
        item_key(cell[1], item)
        for cell, items in facts.libraries.get(user, {}).items()
        for item in items
    }


def _top_with_ties(weights: dict[str, float], limit: int) -> set[str]:
    """The ``limit`` heaviest keys and every key tied with the last of them."""
    ranked = sorted(weights, key=lambda k: -round(weights[k], 9))
    if len(ranked) <= limit:
        return set(ranked)
    cut = round(weights[ranked[limit - 1]], 9)
    return {k for k in ranked if round(weights[k], 9) >= cut}


def _discover(
    facts: PairFacts, *, lover: int, lacking: int, names: dict[str, tuple[str, str]]
) -> list[str]:
    held = _held_keys(facts, lacking)
    loved = _loved(facts, lover)
    return sorted(
        (k for k in loved if k not in held),
        key=lambda k: (-round(loved[k], 9), *_key_order(k, names)),
    )[:DISCOVER_LIMIT]


def keys_to_name(facts: PairFacts, *, first: int, second: int) -> set[str]:
    """The item keys an answer may show, with those tied at a cut (their names order the
    tie): the heaviest shared ones and what each loves that the other lacks."""
    keys = _top_with_ties(_parts(facts, first=first, second=second).shared, SHARED_LIMIT)
    for lover, lacking in ((first, second), (second, first)):
        held = _held_keys(facts, lacking)
        loved = _loved(facts, lover)
        keys |= _top_with_ties({k: w for k, w in loved.items() if k not in held}, DISCOVER_LIMIT)
    return keys


def shared_items(rows: Iterable[tuple[str, float]], refs: dict[str, ItemRef]) -> list[SharedItem]:
    return [SharedItem(item=refs[key], weight=weight) for key, weight in rows if key in refs]
