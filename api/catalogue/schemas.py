"""Schemas of the catalogue area, and the plural ``kind`` form used in every URL."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from ninja import Schema
from pydantic import Field

from api import examples
from api.examples import answer_example
from api.pagination import PageParams
from musicbud.kinds import KIND_BY_PLURAL
from musicbud.models import Album, Artist, CatalogueItem, ItemKind, Provider, Track
from musicbud.selectors.catalogue import item_kind


# Every kind's ``plural`` in musicbud/kinds.py (tests/musicbud/test_kinds.py holds them equal).
class KindPath(StrEnum):
    """A catalogue collection as it appears in URLs (``/catalogue/tracks``)."""

    TRACKS = "tracks"
    ARTISTS = "artists"
    ALBUMS = "albums"
    GENRES = "genres"
    ANIME = "anime"
    MANGA = "manga"

    @property
    def item_kind(self) -> str:
        return KIND_BY_PLURAL[self.value]


class ItemOut(Schema):
    """A catalogue item as every list shows it."""

    model_config = answer_example(examples.TRACK)

    id: UUID
    kind: ItemKind
    name: str
    external_ids: dict[str, str] = Field(
        description="Provider ids the item is known by (spotify, lastfm, ytmusic)."
    )

    @staticmethod
    def resolve_id(obj: CatalogueItem) -> UUID:
        return obj.public_id

    @staticmethod
    def resolve_kind(obj: CatalogueItem) -> str:
        return item_kind(obj)

    @staticmethod
    def resolve_external_ids(obj: CatalogueItem) -> dict[str, str]:
        ids = {provider: getattr(obj, f"{provider}_id") for provider in Provider.values}
        return {provider: value for provider, value in ids.items() if value}


class ItemDetailOut(ItemOut):
    """One item with what it relates to; fields that do not apply to its kind are empty."""

    model_config = answer_example(examples.TRACK_DETAIL)

    artists: list[ItemOut] = Field(description="Tracks and albums: their artists.")
    album: ItemOut | None = Field(description="Tracks: their album.")
    genres: list[ItemOut] = Field(description="Artists: their genres.")
    duration_ms: int | None
    release_year: int | None

    @staticmethod
    def resolve_artists(obj: CatalogueItem) -> list[Artist]:
        if isinstance(obj, Track | Album):
            return list(obj.artists.all())
        return []

    @staticmethod
    def resolve_album(obj: CatalogueItem) -> Album | None:
        return obj.album if isinstance(obj, Track) else None

    @staticmethod
    def resolve_genres(obj: CatalogueItem) -> list[CatalogueItem]:
        return list(obj.genres.all()) if isinstance(obj, Artist) else []

    @staticmethod
    def resolve_duration_ms(obj: CatalogueItem) -> int | None:
        return obj.duration_ms if isinstance(obj, Track) else None

    @staticmethod
    def resolve_release_year(obj: CatalogueItem) -> int | None:
        return obj.release_year if isinstance(obj, Album) else None


class CatalogueSearchParams(PageParams):
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Case-insensitive name search; names starting with it come first.",
    )
