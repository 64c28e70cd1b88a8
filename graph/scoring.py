"""The bud similarity formula (graph/README.md), shared by both graph backends so they rank
identically: both feed it the same integer facts; the SQL backend evaluates the sum in SQL."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

from graph.cursor import keyset_cursor_decode, keyset_cursor_encode
from graph.types import Bud, BudSource, ItemRef, SharedItem
from musicbud.errors import InvalidCursor
from musicbud.kinds import KINDS
from musicbud.models import ItemKind, Relation

# A cell is one (relation, kind) pair: likes of tracks, top artists, played tracks, ...
Cell = tuple[str, str]

KIND_WEIGHT: dict[str, float] = {spec.kind.value: spec.weight for spec in KINDS}
# Plays are passive and noisy; what someone chose to like or rank says more.
RELATION_WEIGHT: dict[str, float] = {
    Relation.LIKE: 1.0,
    Relation.TOP: 1.0,
    Relation.PLAYED: 0.5,
}
SOURCE_RELATIONS: dict[BudSource, tuple[str, ...]] = {
    BudSource.LIKES: (Relation.LIKE,),
    BudSource.TOP: (Relation.TOP,),
    BudSource.PLAYED: (Relation.PLAYED,),
    BudSource.ALL: (Relation.LIKE, Relation.TOP, Relation.PLAYED),
}
KIND_ORDER: tuple[str, ...] = tuple(spec.kind.value for spec in KINDS)
# Scores are rounded before ordering so float noise from summation order never decides a tie.
SCORE_DIGITS = 9
TOP_SHARED = 5
BUDS_PER_RECOMMENDATION = 20
MAX_LIMIT = 100
# Stop items: held by more than 2% of a cell's users (and more than 50 users, so small
# communities keep their hits). They weigh 0, which also spares the bud search from walking
# their thousands of holders (see graph/README.md, "Performance").
STOP_ITEM_SHARE = 0.02
STOP_ITEM_MIN_HOLDERS = 50


def cells_for(*, source: BudSource, kind: str | None) -> list[Cell]:
    """The (relation, kind) cells a query looks at, in a fixed order."""
    kinds = [ItemKind(kind).value] if kind else list(KIND_ORDER)
    return [(relation, k) for relation in SOURCE_RELATIONS[BudSource(source)] for k in kinds]


def cell_weight(cell: Cell) -> float:
    relation, kind = cell
    return RELATION_WEIGHT[relation] * KIND_WEIGHT[kind]


def is_stop_item(*, users: int, df: int) -> bool:
    """Held by so many of a cell's users that sharing it says nothing (IR's ``max_df``)."""
    return df > max(STOP_ITEM_MIN_HOLDERS, STOP_ITEM_SHARE * users)


def item_weight(*, users: int, df: int) -> float:
    """What sharing one item says: 1 / (its holders other than me), so an item only the two of
    us have counts 1 and one shared with nine others 1/10; 0 for a stop item."""
    if is_stop_item(users=users, df=df):
        return 0.0
    return 1.0 / max(df - 1, 1)


def item_key(kind: str, item_id: int) -> str:
    """How scores and item references name an item: ``"<kind>:<sql id>"``."""
    return f"{kind}:{item_id}"


def item_ids_by_kind(keys: Iterable[str]) -> dict[str, list[int]]:
    """The sql ids that ``item_key``s name, by kind (each once, ascending)."""
    by_kind: dict[str, set[int]] = {}
    for key in keys:
        kind, _, item_id = key.partition(":")
        by_kind.setdefault(kind, set()).add(int(item_id))
    return {kind: sorted(ids) for kind, ids in by_kind.items()}


def round_score(value: float) -> float:
    return round(value, SCORE_DIGITS)


@dataclass(frozen=True, slots=True)
class TasteFacts:
    """What the formula needs about the requesting user, whatever the backend.

    ``my_items`` maps each cell to the user's item ids in it; ``df`` gives, per (cell, item id),
    how many users have that item in that cell; ``users`` per cell how many users have anything
    in it; ``sizes`` per (user id, cell) library sizes (the requesting user's and the others').
    """

    cells: list[Cell]
    my_items: dict[Cell, list[int]]
    df: dict[tuple[Cell, int], int]
    users: dict[Cell, int]
    sizes: dict[tuple[int, Cell], int]
    me: int
    # Computed once: every shared-items breakdown on a page reads them again.
    _coefficients: dict[tuple[Cell, int], float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_coefficients", self._compute_coefficients())

    @property
    def active_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if self.sizes.get((self.me, cell), 0) > 0]

    @property
    def total_weight(self) -> float:
        return sum(cell_weight(cell) for cell in self.active_cells)

    def coefficients(self) -> dict[tuple[Cell, int], float]:
        """Per (cell, my item): its contribution before dividing by the other's sqrt(size)."""
        return self._coefficients

    def _compute_coefficients(self) -> dict[tuple[Cell, int], float]:
        total = self.total_weight
        result: dict[tuple[Cell, int], float] = {}
        if total == 0:
            return result
        for cell in self.active_cells:
            scale = cell_weight(cell) / total / math.sqrt(self.sizes[(self.me, cell)])
            for item_id in self.my_items.get(cell, []):
                # Statistics missing after a load that bypassed the services (before
                # graph_refresh_stats) degrade the score; they never fail the query.
                df = self.df.get((cell, item_id), 1)
                weight = item_weight(users=max(self.users.get(cell, 0), df), df=df)
                result[(cell, item_id)] = scale * weight
        return result

    def shared_weights(self, *, other: int, shared: Iterable[tuple[Cell, int]]) -> dict[str, float]:
        """Weight of each shared item (keyed ``kind:id``), summed over the cells it is in."""
        coefficients = self.coefficients()
        weights: dict[str, float] = {}
        for cell, item_id in shared:
            coefficient = coefficients.get((cell, item_id))
            if coefficient is None:
                continue
            key = item_key(cell[1], item_id)
            value = coefficient / math.sqrt(self.sizes.get((other, cell)) or 1)
            weights[key] = weights.get(key, 0.0) + value
        return weights


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: int
    public_id: UUID
    username: str
    display_name: str
    score: float


# (rounded score, public id, user id): ordered by score descending, then public id.
Scored = tuple[float, UUID, int]


class ScoredPage(NamedTuple):
    """A page of ``top_scored``, in ranking order, and the cursors of the pages around it
    (None: there is none)."""

    rows: list[Scored]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a cursor points in a ranking: the key of one row, and which way to read from it
    (forward: the rows after it; backward: the rows just before it)."""

    score: float
    public_id: UUID
    backward: bool = False

    @property
    def key(self) -> tuple[float, UUID]:
        """The row's place in the order ``top_scored`` sorts keys by (smallest first)."""
        return (-self.score, self.public_id)


def top_scored(
    scores: Iterable[tuple[int, UUID, float]], *, limit: int, cursor: str | None
) -> ScoredPage:
    """One page of (user id, public id, score) triples: score descending, then public id
    ascending (the same order in every backend), from an opaque keyset cursor.

    A forward cursor (or none) reads the ``limit`` rows after its row; a backward one the
    ``limit`` rows just before it, in the same order. Each page links both ways: the next page
    reads forward from its last row, the previous one backward from its first, and either is
    None when no row lies that way (the first page has no previous one)."""
    limit = max(1, min(limit, MAX_LIMIT))
    # A heap, not a sort: thousands of candidates, one page wanted.
    keyed: Iterable[tuple[float, UUID, int]] = (
        (-round_score(score), public_id, user_id)
        for user_id, public_id, score in scores
        if score > 0
    )
    position = decode_cursor(cursor) if cursor else None
    if position is None:
        best = heapq.nsmallest(limit + 1, keyed)
        page = [_scored(key) for key in best[:limit]]
        return ScoredPage(page, _forward(page) if len(best) > limit else None, None)
    at = position.key
    if position.backward:
        # The rows before the cursor's, nearest first; the page reads them in ranking order.
        nearest = heapq.nlargest(limit + 1, (key for key in keyed if key[:2] < at))
        page = [_scored(key) for key in reversed(nearest[:limit])]
        # What follows the page is at least the row the cursor was taken from.
        return ScoredPage(page, _forward(page), _backward(page) if len(nearest) > limit else None)
    after: list[tuple[float, UUID, int]] = []
    before = False
    for key in keyed:
        if key[:2] > at:
            after.append(key)
        else:
            before = True
    best = heapq.nsmallest(limit + 1, after)
    page = [_scored(key) for key in best[:limit]]
    return ScoredPage(
        page,
        _forward(page) if len(best) > limit else None,
        _backward(page) if before else None,
    )


def _scored(key: tuple[float, UUID, int]) -> Scored:
    return (-key[0], key[1], key[2])


def _forward(page: list[Scored]) -> str | None:
    """The cursor of the rows after the page (None for an empty page)."""
    return encode_cursor(page[-1][0], page[-1][1]) if page else None


def _backward(page: list[Scored]) -> str | None:
    """The cursor of the rows before the page (None for an empty page)."""
    return encode_cursor(page[0][0], page[0][1], backward=True) if page else None


def encode_cursor(score: float, public_id: UUID, *, backward: bool = False) -> str:
    return keyset_cursor_encode({"s": score, "p": str(public_id)}, backward=backward)


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names."""
    data, backward = keyset_cursor_decode(cursor)
    try:
        return Position(float(data["s"]), UUID(str(data["p"])), backward=backward)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor from exc


def sort_shared(items: Iterable[SharedItem]) -> list[SharedItem]:
    """Weight descending, then kind, name and public id, so ties never depend on the backend."""
    return sorted(
        (SharedItem(item=s.item, weight=round_score(s.weight)) for s in items),
        key=lambda s: (-s.weight, KIND_ORDER.index(s.item.kind), s.item.name, s.item.public_id),
    )


def build_bud(
    candidate: Candidate, *, shared: Mapping[str, float], items: Mapping[str, ItemRef]
) -> Bud:
    ordered = sort_shared(SharedItem(item=items[key], weight=w) for key, w in shared.items())
    return Bud(
        user_public_id=candidate.public_id,
        username=candidate.username,
        display_name=candidate.display_name,
        score=candidate.score,
        shared_count=len(shared),
        # An item everyone holds weighs nothing: it says nothing about the two of us.
        top_shared=[item for item in ordered if item.weight > 0][:TOP_SHARED],
    )


def candidate_scores(facts: TasteFacts, hits: Iterable[tuple[int, Cell, int]]) -> dict[int, float]:
    """Score every other user from their (user id, cell, item id) rows on my items."""
    coefficients = facts.coefficients()
    per_cell: dict[tuple[int, Cell], float] = {}
    for other, cell, item_id in hits:
        coefficient = coefficients.get((cell, item_id))
        if not coefficient or other == facts.me:
            continue
        per_cell[(other, cell)] = per_cell.get((other, cell), 0.0) + coefficient
    scores: dict[int, float] = {}
    for (other, cell), total in per_cell.items():
        size = facts.sizes.get((other, cell)) or 1
        scores[other] = scores.get(other, 0.0) + total / math.sqrt(size)
    return scores


def item_bud_score(*, relations: Iterable[str], sizes: Mapping[str, int]) -> float:
    """How much one item means to a user: per relation they have it in, that relation's
    weight over the square root of their library size in that relation (same kind)."""
    total = sum(RELATION_WEIGHT.values())
    return sum(RELATION_WEIGHT[r] / math.sqrt(sizes[r]) for r in set(relations)) / total


@dataclass(frozen=True, slots=True)
class RecommendationScore:
    score: float
    liked_by: int


def recommendation_scores(
    *, bud_scores: Mapping[int, float], holders: Iterable[tuple[int, str]]
) -> dict[str, RecommendationScore]:
    """Items (keyed ``kind:id``) my buds have and I do not: the sum of their holders' scores."""
    seen: set[tuple[int, str]] = set()
    totals: dict[str, RecommendationScore] = {}
    for bud, key in holders:
        if (bud, key) in seen or bud not in bud_scores:
            continue
        seen.add((bud, key))
        previous = totals.get(key, RecommendationScore(0.0, 0))
        totals[key] = RecommendationScore(previous.score + bud_scores[bud], previous.liked_by + 1)
    return totals
