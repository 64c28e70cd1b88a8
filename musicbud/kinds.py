"""The item-kind registry: what each kind of catalogue item is, declared once (musicbud/README.md,
"Adding an item kind"); every per-kind table of the project is derived from ``KINDS``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from musicbud.models import (
    Album,
    Anime,
    Artist,
    CatalogueItem,
    Genre,
    ItemKind,
    Manga,
    Relation,
    Track,
)


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: ItemKind
    model: type[CatalogueItem]
    # The collection as URLs name it: /api/v1/catalogue/<plural>, the legacy me/liked/<plural>.
    plural: str
    # The Neo4j label of its nodes.
    graph_label: str
    # What sharing an item of this kind weighs in the bud score (graph/README.md).
    weight: float
    # A provider's entries are matched kind by kind in this order: a kind after the kinds its
    # rows link to (albums after their artists, tracks after their album).
    match_rank: int
    # Credits artists (a track also its album): lists show them, an import may name the artist.
    credited: bool = False
    # What the item detail loads with the item: select_related and prefetch_related names.
    detail_select: tuple[str, ...] = ()
    detail_prefetch: tuple[str, ...] = ()
    # What every list item shows beside the item (api/catalogue/schemas.py, ``ItemOut``): the
    # related items loaded with it, ``select_related`` (one each: a track's album) and
    # ``prefetch_related`` (several: artists) names; each named relation is a field of the item.
    list_select: tuple[str, ...] = ()
    list_prefetch: tuple[str, ...] = ()
    # The catalogue list's filters by a related item (``?artist=<id>``): filter name (a kind) to
    # the relation followed.
    filters: Mapping[str, str] = field(default_factory=dict)
    # Where the item's images come from when it has none of its own (a track: its album's).
    images_from: str | None = None
    # The legacy API's lists of it (me/<word>/<plural>, bud/<word>/<plural>, bud/common/...),
    # by relation, and whether it serves bud/<kind> (the people an item means most to).
    legacy_lists: tuple[Relation, ...] = ()
    legacy_item_buds: bool = False
    # ModelAdmin options over the catalogue admin's defaults (musicbud/admin.py).
    admin: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column(self) -> str:
        """The ``TasteEdge`` foreign key column (and ``<kind>_id`` everywhere else)."""
        return f"{self.kind.value}_id"


# In ``ItemKind`` order: the order kinds are listed, scored and tie-broken in.
KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        kind=ItemKind.TRACK,
        model=Track,
        plural="tracks",
        graph_label="Track",
        weight=2.0,
        match_rank=3,
        credited=True,
        detail_select=("album",),
        detail_prefetch=("artists",),
        list_select=("album",),
        list_prefetch=("artists",),
        # Spotify gives tracks no images of their own.
        images_from="album",
        filters={"artist": "artists", "album": "album"},
        legacy_lists=(Relation.LIKE, Relation.TOP, Relation.PLAYED),
        legacy_item_buds=True,
        admin={
            "list_display": ("name", "album", "duration_ms", "spotify_id", "created_at"),
            "list_select_related": ("album",),
            "autocomplete_fields": ("album",),
            "filter_horizontal": ("artists",),
        },
    ),
    KindSpec(
        kind=ItemKind.ARTIST,
        model=Artist,
        plural="artists",
        graph_label="Artist",
        weight=2.0,
        match_rank=1,
        detail_prefetch=("genres",),
        filters={"genre": "genres"},
        legacy_lists=(Relation.LIKE, Relation.TOP),
        legacy_item_buds=True,
        admin={"list_filter": ("genres", "created_at"), "filter_horizontal": ("genres",)},
    ),
    KindSpec(
        kind=ItemKind.ALBUM,
        model=Album,
        plural="albums",
        graph_label="Album",
        weight=1.0,
        match_rank=2,
        credited=True,
        detail_prefetch=("artists",),
        list_prefetch=("artists",),
        filters={"artist": "artists"},
        legacy_lists=(Relation.LIKE,),
        legacy_item_buds=True,
        admin={
            "list_display": ("name", "release_year", "spotify_id", "created_at"),
            "list_filter": ("release_year", "created_at"),
            "filter_horizontal": ("artists",),
        },
    ),
    KindSpec(
        kind=ItemKind.GENRE,
        model=Genre,
        plural="genres",
        graph_label="Genre",
        weight=1.0,
        match_rank=0,
        filters={"artist": "artists"},
        legacy_lists=(Relation.LIKE, Relation.TOP),
        legacy_item_buds=True,
    ),
    # A MyAnimeList title is one a person chose to list and score: as telling as an artist.
    KindSpec(
        kind=ItemKind.ANIME,
        model=Anime,
        plural="anime",
        graph_label="Anime",
        weight=2.0,
        match_rank=4,
        legacy_lists=(Relation.TOP,),
        admin={"list_display": ("name", "mal_id", "created_at")},
    ),
    KindSpec(
        kind=ItemKind.MANGA,
        model=Manga,
        plural="manga",
        graph_label="Manga",
        weight=2.0,
        match_rank=5,
        legacy_lists=(Relation.TOP,),
        admin={"list_display": ("name", "mal_id", "created_at")},
    ),
)

KIND_SPECS: dict[str, KindSpec] = {spec.kind.value: spec for spec in KINDS}
ITEM_MODELS: dict[str, type[CatalogueItem]] = {spec.kind.value: spec.model for spec in KINDS}
KIND_BY_MODEL: dict[type[CatalogueItem], str] = {spec.model: spec.kind.value for spec in KINDS}
KIND_BY_PLURAL: dict[str, str] = {spec.plural: spec.kind.value for spec in KINDS}
MATCH_ORDER: tuple[ItemKind, ...] = tuple(
    spec.kind for spec in sorted(KINDS, key=lambda spec: spec.match_rank)
)
# A taste edge's item is in exactly one of these columns (the one its kind names).
ITEM_ID_COLUMNS: tuple[str, ...] = tuple(spec.column for spec in KINDS)


def item_id_sql(alias: str = "") -> str:
    """A taste edge's item id in SQL: the first non-null item column (``COALESCE``)."""
    prefix = f"{alias}." if alias else ""
    return f"COALESCE({', '.join(prefix + column for column in ITEM_ID_COLUMNS)})"
