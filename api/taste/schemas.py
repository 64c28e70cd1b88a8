"""Schemas of the taste area, including the taste import document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from ninja import Schema
from pydantic import ConfigDict, Field, model_validator

from api import examples
from api.catalogue.schemas import ItemOut
from api.examples import answer_example
from api.pagination import PageParams
from api.schemas import InputSchema
from musicbud.kinds import KIND_SPECS, KINDS
from musicbud.models import CatalogueItem, ItemKind, Provider, Relation, TasteEdge
from musicbud.selectors.catalogue import ItemCard, item_card
from musicbud.selectors.taste import LikeSort
from musicbud.services.taste_import import ImportEntry


class TasteListParams(PageParams):
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Only items whose name contains this (case-insensitive).",
    )


class LikesParams(TasteListParams):
    sort: LikeSort = Field(
        LikeSort.RECENT,
        description="recent: newest like first; oldest: oldest first; name: item name A to Z.",
    )


@dataclass(frozen=True, slots=True)
class LikeView:
    """A like with its item's card loaded apart (the like written by ``like_add``)."""

    item: ItemCard
    source: str
    created_at: datetime


def _edge_item(edge: TasteEdge) -> ItemCard:
    # Loaded with what its card shows (musicbud.selectors.taste.taste_edges_list).
    item: CatalogueItem = getattr(edge, edge.kind)
    return item_card(item)


class LikeOut(Schema):
    model_config = answer_example(examples.LIKE)

    item: ItemOut
    source: str
    liked_at: datetime

    @staticmethod
    def resolve_item(obj: TasteEdge | LikeView) -> ItemCard:
        return obj.item if isinstance(obj, LikeView) else _edge_item(obj)

    @staticmethod
    def resolve_liked_at(obj: TasteEdge | LikeView) -> datetime:
        return obj.created_at


class TopOut(Schema):
    model_config = answer_example(examples.TOP)

    item: ItemOut
    rank: int
    source: str

    @staticmethod
    def resolve_item(obj: TasteEdge) -> ItemCard:
        return _edge_item(obj)


class PlayOut(Schema):
    model_config = answer_example(examples.PLAY)

    item: ItemOut
    play_count: int
    last_played_at: datetime | None

    @staticmethod
    def resolve_item(obj: TasteEdge) -> ItemCard:
        return _edge_item(obj)


# --- import -----------------------------------------------------------------------------------

# The kinds an import may name an artist for: "tracks and albums".
CREDITED_PLURALS = " and ".join(spec.plural for spec in KINDS if spec.credited)


class ImportItemIn(InputSchema):
    """An item by provider id, by name, or both (the id is tried first; the name creates the
    item when nothing matches)."""

    kind: ItemKind
    provider: Provider | None = None
    external_id: str | None = Field(None, min_length=1, max_length=128)
    name: str | None = Field(None, min_length=1, max_length=300)
    artist: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description=(
            f"{CREDITED_PLURALS.capitalize()}: the artist's name, to tell items of the same "
            "name apart (and to credit the artist when the item is created)."
        ),
    )

    @model_validator(mode="after")
    def _identified(self) -> ImportItemIn:
        if (self.provider is None) != (self.external_id is None):
            raise ValueError("provider and external_id go together")
        if self.external_id is None and self.name is None:
            raise ValueError("give provider + external_id, or name, or both")
        if self.artist is not None and not KIND_SPECS[self.kind].credited:
            raise ValueError(f"artist goes with {CREDITED_PLURALS} only")
        return self

    def entry(self, section: str, index: int, relation: str, **edge: Any) -> ImportEntry:
        return ImportEntry(
            section=section,
            index=index,
            relation=relation,
            kind=self.kind.value,
            name=self.name.strip() if self.name else None,
            artist=self.artist.strip() if self.artist else None,
            provider=self.provider.value if self.provider else None,
            external_id=self.external_id,
            **edge,
        )


class ImportTopIn(ImportItemIn):
    rank: int = Field(ge=1, le=1000)


class ImportPlayIn(ImportItemIn):
    kind: Literal[ItemKind.TRACK] = ItemKind.TRACK
    play_count: int = Field(ge=1, le=10_000_000)
    last_played_at: datetime | None = None


IMPORT_EXAMPLE: dict[str, Any] = {
    "likes": [
        {
            "kind": "track",
            "provider": "spotify",
            "external_id": "3n3Ppam7vgaVa1iaRUc9Lp",
            "name": "Mr. Brightside",
            "artist": "The Killers",
        },
        {"kind": "artist", "name": "Radiohead"},
        {"kind": "genre", "provider": "lastfm", "external_id": "trip-hop", "name": "Trip-hop"},
    ],
    "top": [{"kind": "artist", "rank": 1, "name": "Portishead"}],
    "plays": [
        {
            "provider": "ytmusic",
            "external_id": "dQw4w9WgXcQ",
            "name": "Never Gonna Give You Up",
            "artist": "Rick Astley",
            "play_count": 12,
            "last_played_at": "2026-01-31T21:15:00Z",
        }
    ],
}


class TasteImportIn(InputSchema):
    """A taste document. Every entry is applied, or none is."""

    model_config = ConfigDict(json_schema_extra={"examples": [IMPORT_EXAMPLE]})

    likes: list[ImportItemIn] = Field(default_factory=list)
    top: list[ImportTopIn] = Field(default_factory=list)
    plays: list[ImportPlayIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _size(self) -> TasteImportIn:
        total = len(self.likes) + len(self.top) + len(self.plays)
        if total == 0:
            raise ValueError("the document has no entries")
        if total > settings.TASTE_IMPORT_MAX_ENTRIES:
            raise ValueError(
                f"{total} entries; one import takes at most {settings.TASTE_IMPORT_MAX_ENTRIES}"
            )
        ranks = [(entry.kind, entry.rank) for entry in self.top]
        if len(set(ranks)) != len(ranks):
            raise ValueError("top: each rank may be given once per kind")
        return self

    def entries(self) -> list[ImportEntry]:
        return [
            *(e.entry("likes", i, Relation.LIKE) for i, e in enumerate(self.likes)),
            *(e.entry("top", i, Relation.TOP, rank=e.rank) for i, e in enumerate(self.top)),
            *(
                e.entry(
                    "plays",
                    i,
                    Relation.PLAYED,
                    play_count=e.play_count,
                    last_played_at=e.last_played_at,
                )
                for i, e in enumerate(self.plays)
            ),
        ]


class ImportCountsOut(Schema):
    created: int
    matched: int


class ImportEdgeCountsOut(Schema):
    created: int
    updated: int
    removed: int = Field(description="Top items dropped: a kind's top list is replaced.")


class SkippedOut(Schema):
    section: str
    index: int
    reason: str


class TasteImportOut(Schema):
    model_config = answer_example(examples.TASTE_IMPORT)

    items: ImportCountsOut = Field(description="Catalogue items created or matched.")
    edges: ImportEdgeCountsOut = Field(description="Likes / top items / plays set.")
    skipped: list[SkippedOut] = Field(description="Entries repeating an earlier one.")

    @staticmethod
    def resolve_items(obj: Any) -> dict[str, int]:
        return {"created": obj.items_created, "matched": obj.items_matched}

    @staticmethod
    def resolve_edges(obj: Any) -> dict[str, int]:
        return {
            "created": obj.edges_created,
            "updated": obj.edges_updated,
            "removed": obj.edges_removed,
        }
