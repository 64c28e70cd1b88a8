"""The Neo4j labels and relationship types of the projection, named in this one place."""

from __future__ import annotations

from musicbud.models import ItemKind, Relation

USER = "User"
LABEL_FOR_KIND: dict[str, str] = {
    ItemKind.TRACK: "Track",
    ItemKind.ARTIST: "Artist",
    ItemKind.ALBUM: "Album",
    ItemKind.GENRE: "Genre",
}
TYPE_FOR_RELATION: dict[str, str] = {
    Relation.LIKE: "LIKES",
    Relation.TOP: "TOP",
    Relation.PLAYED: "PLAYED",
}
