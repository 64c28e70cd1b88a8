"""Schemas of the catalogue area, and the plural ``kind`` form used in every URL."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from ninja import Schema
from pydantic import Field

from api import examples
from api.examples import answer_example
from api.pagination import PageParams
from graph.types import ItemRef
from musicbud.kinds import KIND_BY_MODEL, KIND_BY_PLURAL, KINDS
from musicbud.models import Album, Artist, CatalogueItem, ItemKind, Track
from musicbud.selectors.catalogue import ItemCard, external_ids, images_of, item_card


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


class ImageOut(Schema):
    url: str
    width: int | None = Field(description="Pixels, where the provider says.")
    height: int | None = Field(description="Pixels, where the provider says.")


class ItemLinkOut(Schema):
    """A related item, by id, kind and name (its own detail has the rest)."""

    id: UUID
    kind: ItemKind
    name: str

    @staticmethod
    def resolve_id(obj: ItemRef) -> UUID:
        return obj.public_id


def _card(obj: ItemCard | CatalogueItem) -> ItemCard:
    return obj if isinstance(obj, ItemCard) else item_card(obj)


class ItemOut(Schema):
    """A catalogue item as every list shows it: what an app draws for it. The related items
    are those its kind lists (musicbud/kinds.py, ``list_select`` and ``list_prefetch``); the
    fields of relations a kind does not have are empty."""

    model_config = answer_example(examples.TRACK)

    id: UUID
    kind: ItemKind
    name: str
    external_ids: dict[str, str] = Field(
        description="Provider ids the item is known by (spotify, lastfm, ytmusic)."
    )
    images: list[ImageOut] = Field(
        description=(
            "Widest first, in the sizes the provider gave them (empty when none is known); a "
            "track without images of its own shows its album's."
        )
    )
    artists: list[ItemLinkOut] = Field(description="Tracks and albums: their artists.")
    album: ItemLinkOut | None = Field(description="Tracks: their album (null if unknown).")

    @staticmethod
    def resolve_id(obj: ItemCard | CatalogueItem) -> UUID:
        return obj.public_id

    @staticmethod
    def resolve_kind(obj: ItemCard | CatalogueItem) -> str:
        return _card(obj).kind

    @staticmethod
    def resolve_external_ids(obj: ItemCard | CatalogueItem) -> dict[str, str]:
        return dict(_card(obj).external_ids)

    @staticmethod
    def resolve_images(obj: ItemCard | CatalogueItem) -> list[dict[str, object]]:
        return [dict(image) for image in _card(obj).images]

    @staticmethod
    def resolve_artists(obj: ItemCard | CatalogueItem) -> list[ItemRef]:
        return list(_card(obj).many.get("artists", ()))

    @staticmethod
    def resolve_album(obj: ItemCard | CatalogueItem) -> ItemRef | None:
        return _card(obj).one.get("album")


# The relations any kind lists: each is a field of ItemOut (tests/musicbud/test_kinds.py).
LISTED_RELATIONS = frozenset(
    name for spec in KINDS for name in (*spec.list_select, *spec.list_prefetch)
)


class RelatedItemOut(Schema):
    """A related item in an item's detail: as in lists, without its own related items."""

    id: UUID
    kind: ItemKind
    name: str
    external_ids: dict[str, str]
    images: list[ImageOut]

    @staticmethod
    def resolve_id(obj: CatalogueItem) -> UUID:
        return obj.public_id

    @staticmethod
    def resolve_kind(obj: CatalogueItem) -> str:
        return KIND_BY_MODEL[type(obj)]

    @staticmethod
    def resolve_external_ids(obj: CatalogueItem) -> dict[str, str]:
        return external_ids(obj)

    @staticmethod
    def resolve_images(obj: CatalogueItem) -> list[dict[str, object]]:
        return [dict(image) for image in images_of(obj.images)]


class ItemDetailOut(ItemOut):
    """One item with what it relates to; fields that do not apply to its kind are empty."""

    model_config = answer_example(examples.TRACK_DETAIL)

    artists: list[RelatedItemOut] = Field(  # type: ignore[assignment]
        description="Tracks and albums: their artists."
    )
    album: RelatedItemOut | None = Field(  # type: ignore[assignment]
        description="Tracks: their album."
    )
    genres: list[RelatedItemOut] = Field(description="Artists: their genres.")
    duration_ms: int | None
    release_year: int | None

    @staticmethod
    def resolve_artists(obj: CatalogueItem) -> list[Artist]:  # type: ignore[override]
        if isinstance(obj, Track | Album):
            return list(obj.artists.all())
        return []

    @staticmethod
    def resolve_album(obj: CatalogueItem) -> Album | None:  # type: ignore[override]
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


def _filter_description(name: str) -> str:
    plurals = [spec.plural for spec in KINDS if name in spec.filters]
    return f"Only the {' and '.join(plurals)} related to this {name} (its id)."


class CatalogueSearchParams(PageParams):
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Case-insensitive name search; names starting with it come first.",
    )
    # Every filter name of every kind (KindSpec.filters; tests/musicbud/test_kinds.py).
    artist: UUID | None = Field(None, description=_filter_description("artist"))
    album: UUID | None = Field(None, description=_filter_description("album"))
    genre: UUID | None = Field(None, description=_filter_description("genre"))

    def related(self) -> dict[str, UUID]:
        """The filters given, by name."""
        return {
            name: value for name in CATALOGUE_FILTERS if (value := getattr(self, name)) is not None
        }


CATALOGUE_FILTERS = tuple(sorted({name for spec in KINDS for name in spec.filters}))
