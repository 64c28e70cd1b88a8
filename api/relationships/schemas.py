"""Schemas of the relationships area. People appear by public id, username and display name
only; a compare token is shown to its owner alone."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field

from api import examples
from api.buds.schemas import SharedItemOut
from api.catalogue.schemas import ItemOut
from api.pagination import PageParams
from api.schemas import InputSchema
from api.users.schemas import PublicProfileOut
from musicbud.relationships.models import Audience

PERSON_EXAMPLE: dict[str, Any] = {
    "id": "6f1c2b1e-8a51-4a7b-9a43-0f5f3c2d9e10",
    "username": "ana",
    "display_name": "Ana",
}
ITEM_EXAMPLE: dict[str, Any] = examples.TRACK


def _examples(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class PersonOut(Schema):
    id: UUID = Field(validation_alias="public_id")
    username: str
    display_name: str


class PrivacyOut(Schema):
    discoverable: Audience = Field(
        description="Who finds me in buds, item buds, user search and recommendations' buds."
    )
    taste_visible_to: Audience = Field(
        description="Who sees my taste lists, common items and compatibility (a compare link "
        "I share overrides it for its holder)."
    )
    model_config = _examples({"discoverable": "friends", "taste_visible_to": "everyone"})


class PrivacyIn(InputSchema):
    discoverable: Audience | None = None
    taste_visible_to: Audience | None = None


class FriendRequestIn(InputSchema):
    username: str = Field(min_length=1, max_length=150)


REQUEST_EXAMPLE: dict[str, Any] = {
    "id": "3c2e1f0a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    "from": PERSON_EXAMPLE,
    "to": {**PERSON_EXAMPLE, "username": "ben", "display_name": "Ben"},
    "status": "pending",
    "created_at": "2026-12-07T09:00:00.000Z",
}


class FriendRequestOut(Schema):
    id: UUID
    from_: PersonOut = Field(alias="from", validation_alias="sender")
    to: PersonOut = Field(validation_alias="recipient")
    status: str = Field(description="pending, accepted, declined or cancelled")
    created_at: datetime
    model_config = ConfigDict(
        populate_by_name=True, json_schema_extra={"examples": [REQUEST_EXAMPLE]}
    )


class Direction(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class RequestsParams(PageParams):
    direction: Direction = Direction.INCOMING


class FriendOut(Schema):
    user: PersonOut
    since: datetime
    compatibility: int | None = Field(
        ge=0,
        le=100,
        description="Our compatibility score (0-100); null when their taste is hidden from me.",
    )
    model_config = _examples(
        {"user": PERSON_EXAMPLE, "since": "2026-12-07T09:00:00.000Z", "compatibility": 64}
    )


class CellScoreOut(Schema):
    relation: str
    kind: str
    score: int = Field(ge=0, le=100)


class DiscoverOut(Schema):
    for_me: list[ItemOut] = Field(description="What they love that I lack.")
    for_them: list[ItemOut] = Field(description="What I love that they lack.")


COMPATIBILITY_EXAMPLE: dict[str, Any] = {
    "user": PERSON_EXAMPLE,
    "score": 64,
    "breakdown": [{"relation": "like", "kind": "track", "score": 58}],
    "shared": [{"item": ITEM_EXAMPLE, "weight": 0.21}],
    "together": ITEM_EXAMPLE,
    "discover": {"for_me": [ITEM_EXAMPLE], "for_them": []},
}


class CompatibilityOut(Schema):
    user: PersonOut
    score: int = Field(
        ge=0,
        le=100,
        description="round(100 * sqrt(cosine)) of our weighted libraries (the bud score made "
        "symmetric): 100 for identical libraries, 0 for nothing shared.",
    )
    breakdown: list[CellScoreOut] = Field(description="The same score per relation and kind.")
    shared: list[SharedItemOut] = Field(description="What we share, heaviest first (20 at most).")
    together: ItemOut | None = Field(description="The shared item that weighs most.")
    discover: DiscoverOut
    model_config = _examples(COMPATIBILITY_EXAMPLE)


class CompareLinkOut(Schema):
    token: str
    url: str
    expires_at: datetime
    model_config = _examples(
        {
            "token": "mQ0b5x8u2k1eC4h7J9n3W6q0T5y8R2a1",
            "url": "/api/v1/compare/mQ0b5x8u2k1eC4h7J9n3W6q0T5y8R2a1",
            "expires_at": "2026-12-14T09:00:00.000Z",
        }
    )


class CompareOut(Schema):
    owner: PublicProfileOut = Field(description="The link owner's public profile.")
    compatibility: CompatibilityOut
    model_config = _examples(
        {"owner": examples.PUBLIC_PROFILE, "compatibility": COMPATIBILITY_EXAMPLE}
    )


class BlendParams(Schema):
    limit: int = Field(50, ge=1, le=100, description="How many tracks (1-100).")


class BlendRowOut(Schema):
    track: ItemOut
    source: str = Field(description="Whose taste it came from: `me`, `them` or `both`.")
    model_config = _examples({"track": ITEM_EXAMPLE, "source": "both"})


class BlendOut(Schema):
    """The whole blend in one answer (``limit`` rows at most): a list in the shape of every
    page, with no page before or after it."""

    items: list[BlendRowOut]
    count: int = Field(description="How many rows the blend holds (all of them are here).")
    next: None = Field(description="Always null: the blend is one page.")
    previous: None = Field(description="Always null: the blend is one page.")
    model_config = _examples(
        {
            "items": [
                {"track": ITEM_EXAMPLE, "source": "both"},
                {
                    "track": {
                        **ITEM_EXAMPLE,
                        "id": "4d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a",
                        "name": "Glory Box",
                        "external_ids": {},
                    },
                    "source": "me",
                },
            ],
            "count": 2,
            "next": None,
            "previous": None,
        }
    )


class FeedEventOut(Schema):
    type: str = Field(
        description="`like`, `top` (a new entry in a top list), `sync` (a finished sync) or "
        "`import` (a finished history upload)."
    )
    at: datetime
    user: PersonOut
    item: ItemOut | None = Field(
        description="The item liked or ranked; null for a sync or an import."
    )
    rank: int | None = Field(description="The rank of a new top entry.")
    added: dict[str, int] | None = Field(
        description="What a finished sync or import added, by relation "
        '(`{"played": 2300}`: "added 2,300 plays").'
    )
    model_config = _examples(
        {
            "type": "like",
            "at": "2026-12-07T09:00:00.000Z",
            "user": PERSON_EXAMPLE,
            "item": ITEM_EXAMPLE,
            "rank": None,
            "added": None,
        }
    )
