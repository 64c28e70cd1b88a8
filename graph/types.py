"""Value types of the graph layer: what every backend returns (both answer in the same shapes),
the key of a taste edge that versions and statistics are kept by, and a change of one edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from musicbud.models import CatalogueItem, TasteEdge, User


class BudSource(StrEnum):
    LIKES = "likes"
    TOP = "top"
    PLAYED = "played"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ItemRef:
    kind: str
    public_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class SharedItem:
    item: ItemRef
    weight: float


@dataclass(frozen=True, slots=True)
class Bud:
    user_public_id: UUID
    username: str
    display_name: str
    score: float
    shared_count: int
    top_shared: list[SharedItem] = field(default_factory=list)
    # Set by the reads that show a page to someone (musicbud.selectors.buds): this person's
    # taste is hidden from the viewer, so ``top_shared`` is left empty.
    taste_hidden: bool = False


@dataclass(frozen=True, slots=True)
class BudPage:
    """A page of a bud ranking and the cursors of the pages next to it (None: none that way;
    the previous cursor reads the ranking backward, see ``graph.scoring.top_scored``)."""

    buds: list[Bud]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True, slots=True)
class Recommendation:
    item: ItemRef
    score: float
    liked_by: int


@dataclass(frozen=True, slots=True, order=True)
class EdgeKey:
    """One taste edge by its database ids."""

    user_id: int
    relation: str
    kind: str
    item_id: int


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """An edge written (``edge`` is its new state) or deleted (``edge`` is None)."""

    user: User
    relation: str
    kind: str
    item: CatalogueItem
    edge: TasteEdge | None

    @property
    def key(self) -> EdgeKey:
        return EdgeKey(self.user.pk, self.relation, self.kind, self.item.pk)
