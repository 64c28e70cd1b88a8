"""Schemas of the buds area. Another user appears only by public id, username and display
name: never their email, tokens or any other private field."""

from __future__ import annotations

from uuid import UUID

from ninja import Schema
from pydantic import Field

from api import examples
from api.catalogue.schemas import ItemOut, KindPath
from api.examples import answer_example
from api.pagination import PageParams
from graph.types import Bud, BudSource


class SharedItemOut(Schema):
    model_config = answer_example(examples.SHARED_ITEM)

    item: ItemOut
    weight: float = Field(description="This item's share of the bud score.")


class BudUserOut(Schema):
    id: UUID
    username: str
    display_name: str


class BudOut(Schema):
    model_config = answer_example(examples.BUD)

    user: BudUserOut
    score: float = Field(
        description="Similarity (shared items weighted by how few others hold them, over both "
        "library sizes; see api/README.md); the weights of all shared items add up to it."
    )
    shared_count: int = Field(description="How many items we share.")
    top_shared: list[SharedItemOut] = Field(
        description="The shared items weighing most (up to 5; items that weigh nothing are left "
        "out: everyone has them). Empty when `taste_hidden`."
    )
    taste_hidden: bool = Field(
        description="In my buds: their `taste_visible_to` leaves me out, so they are listed "
        "(they let me find them) with their score but not the items we share. Always false in "
        "an item's buds, which leave such people out."
    )

    @staticmethod
    def resolve_user(obj: Bud) -> dict[str, object]:
        return {
            "id": obj.user_public_id,
            "username": obj.username,
            "display_name": obj.display_name,
        }


class RecommendationOut(Schema):
    model_config = answer_example(examples.RECOMMENDATION)

    item: ItemOut
    score: float
    liked_by: int = Field(description="How many of my top buds have it.")


class BudsParams(PageParams):
    kind: KindPath | None = Field(None, description="Only this kind of item (default: all).")
    source: BudSource = Field(
        BudSource.ALL, description="Which taste to compare: likes, top, played or all."
    )


class CommonParams(PageParams):
    kind: KindPath | None = Field(None, description="Only this kind of item (default: all).")


class RecommendationParams(PageParams):
    kind: KindPath | None = Field(
        None, description="Only this kind of item (default: all, best first across kinds)."
    )
