"""neomodel classes of the projection: the schema ``graph_install_labels`` installs, and typed
access for scripts and tests (queries use Cypher through ``graph.connection``)."""

from __future__ import annotations

from neomodel import (
    AsyncRelationshipTo,
    AsyncStructuredNode,
    AsyncStructuredRel,
    DateTimeProperty,
    IntegerProperty,
    StringProperty,
    UniqueIdProperty,
)

from graph.labels import LABEL_FOR_KIND, TYPE_FOR_RELATION, USER
from musicbud.models import ItemKind, Relation

LIKES, TOP, PLAYED = (TYPE_FOR_RELATION[r] for r in (Relation.LIKE, Relation.TOP, Relation.PLAYED))


class LikesRel(AsyncStructuredRel):
    at = DateTimeProperty()
    version = IntegerProperty(default=0)


class TopRel(AsyncStructuredRel):
    rank = IntegerProperty()
    at = DateTimeProperty()
    version = IntegerProperty(default=0)


class PlayedRel(AsyncStructuredRel):
    count = IntegerProperty()
    last_at = DateTimeProperty()
    version = IntegerProperty(default=0)


class CatalogueNode(AsyncStructuredNode):
    __abstract_node__ = True

    public_id = UniqueIdProperty()
    sql_id = IntegerProperty(index=True)
    name = StringProperty()


class GenreNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.GENRE]


class ArtistNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.ARTIST]


class AlbumNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.ALBUM]


class TrackNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.TRACK]


class AnimeNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.ANIME]


class MangaNode(CatalogueNode):
    __label__ = LABEL_FOR_KIND[ItemKind.MANGA]


# Each item kind's node class (graph_install_labels installs their constraints and indexes).
ITEM_NODES: dict[str, type[CatalogueNode]] = {
    ItemKind.TRACK: TrackNode,
    ItemKind.ARTIST: ArtistNode,
    ItemKind.ALBUM: AlbumNode,
    ItemKind.GENRE: GenreNode,
    ItemKind.ANIME: AnimeNode,
    ItemKind.MANGA: MangaNode,
}


class UserNode(AsyncStructuredNode):
    __label__ = USER

    public_id = UniqueIdProperty()
    sql_id = IntegerProperty(index=True)
    username = StringProperty()
    display_name = StringProperty()

    likes_tracks = AsyncRelationshipTo(TrackNode, LIKES, model=LikesRel)
    likes_artists = AsyncRelationshipTo(ArtistNode, LIKES, model=LikesRel)
    likes_albums = AsyncRelationshipTo(AlbumNode, LIKES, model=LikesRel)
    likes_genres = AsyncRelationshipTo(GenreNode, LIKES, model=LikesRel)
    top_tracks = AsyncRelationshipTo(TrackNode, TOP, model=TopRel)
    top_artists = AsyncRelationshipTo(ArtistNode, TOP, model=TopRel)
    top_albums = AsyncRelationshipTo(AlbumNode, TOP, model=TopRel)
    top_genres = AsyncRelationshipTo(GenreNode, TOP, model=TopRel)
    played_tracks = AsyncRelationshipTo(TrackNode, PLAYED, model=PlayedRel)
    played_artists = AsyncRelationshipTo(ArtistNode, PLAYED, model=PlayedRel)
    played_albums = AsyncRelationshipTo(AlbumNode, PLAYED, model=PlayedRel)
    played_genres = AsyncRelationshipTo(GenreNode, PLAYED, model=PlayedRel)


class EdgeStateNode(AsyncStructuredNode):
    """Newest version applied per taste edge (kept after a delete: the tombstone)."""

    __label__ = "EdgeState"

    key = StringProperty(unique_index=True, required=True)
    version = IntegerProperty(default=0)
