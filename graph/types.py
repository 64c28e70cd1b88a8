"""Value types of the graph layer: what every backend returns (both answer in the same shapes),
and the key of a taste edge that versions and statistics are kept by."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID


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


@dataclass(frozen=True, slots=True)
class BudPage:
    buds: list[Bud]
    next_cursor: str | None


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
