"""A small taste world for the graph tests, written through the taste services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from musicbud.models import (
    Album,
    Artist,
    CatalogueItem,
    Genre,
    ItemKind,
    Relation,
    Track,
    User,
)
from musicbud.services.taste import taste_edge_set
from tests.factories import (
    AlbumFactory,
    AnimeFactory,
    ArtistFactory,
    GenreFactory,
    MangaFactory,
    TrackFactory,
    UserFactory,
)


@dataclass
class TasteWorld:
    users: dict[str, User]
    tracks: dict[str, Track]
    artists: dict[str, Artist]
    albums: dict[str, Album]
    genres: dict[str, Genre]


def build_world() -> TasteWorld:
    """Six people; one hit song everybody likes, niche songs few share, ties on purpose."""
    users = {
        name: UserFactory.create(username=name, display_name=name.title())
        for name in ("alice", "bob", "carol", "dave", "erin", "frank")
    }
    tracks = {
        name: TrackFactory.create(name=name)
        for name in ("hit", "deep", "rare", "b-side", "jam", "anthem")
    }
    artists = {name: ArtistFactory.create(name=name) for name in ("band", "solo", "duo")}
    albums = {name: AlbumFactory.create(name=name) for name in ("lp", "ep")}
    genres = {name: GenreFactory.create(name=name) for name in ("jazz", "rock", "pop")}
    likes: dict[str, list[tuple[str, object]]] = {
        "alice": [
            ("track", tracks["hit"]),
            ("track", tracks["deep"]),
            ("track", tracks["rare"]),
            ("artist", artists["band"]),
            ("genre", genres["jazz"]),
            ("album", albums["lp"]),
        ],
        "bob": [
            ("track", tracks["b-side"]),
            ("track", tracks["hit"]),
            ("track", tracks["rare"]),
            ("artist", artists["band"]),
            ("genre", genres["jazz"]),
        ],
        "carol": [
            ("track", tracks["hit"]),
            ("track", tracks["deep"]),
            ("track", tracks["jam"]),
            ("genre", genres["pop"]),
            ("track", tracks["anthem"]),
            ("album", albums["lp"]),
        ],
        "dave": [
            ("track", tracks["hit"]),
            ("track", tracks["b-side"]),
            ("artist", artists["solo"]),
            ("genre", genres["rock"]),
        ],
        "erin": [
            ("track", tracks["hit"]),
            ("track", tracks["anthem"]),
            ("artist", artists["solo"]),
            ("genre", genres["rock"]),
        ],
        "frank": [("track", tracks["b-side"]), ("artist", artists["duo"])],
    }
    for name, items in likes.items():
        for kind, item in items:
            taste_edge_set(user=users[name], kind=kind, item=item, relation=Relation.LIKE)  # type: ignore[arg-type]
    tops = {
        "alice": [(artists["band"], 1), (artists["solo"], 2)],
        "bob": [(artists["band"], 1)],
        "dave": [(artists["solo"], 1), (artists["band"], 2)],
    }
    for name, ranked in tops.items():
        for artist, rank in ranked:
            taste_edge_set(
                user=users[name],
                kind=ItemKind.ARTIST,
                item=artist,
                relation=Relation.TOP,
                rank=rank,
            )
    played = datetime(2026, 1, 1, 12, tzinfo=UTC)
    plays = {
        "alice": [(tracks["jam"], 12), (tracks["deep"], 3)],
        "carol": [(tracks["jam"], 40)],
        "erin": [(tracks["deep"], 1), (tracks["jam"], 2)],
    }
    for name, counted in plays.items():
        for track, count in counted:
            taste_edge_set(
                user=users[name],
                kind=ItemKind.TRACK,
                item=track,
                relation=Relation.PLAYED,
                play_count=count,
                last_played_at=played,
            )
    return TasteWorld(users=users, tracks=tracks, artists=artists, albums=albums, genres=genres)


def build_contract_world() -> TasteWorld:
    """The world, plus what the backends must leave out alike."""
    world = build_world()
    users, tracks = world.users, world.tracks
    # Gina shares Alice's niche songs but has deactivated her account: she still counts in
    # the statistics, never as a bud. A deleted song takes its likes with it (a cascade past
    # the taste services): both backends must agree on what is left.
    gina = UserFactory.create(username="gina", display_name="Gina")
    for name in ("deep", "rare"):
        taste_edge_set(user=gina, kind=ItemKind.TRACK, item=tracks[name], relation=Relation.LIKE)
    gina.is_active = False
    gina.save()
    gone = TrackFactory.create(name="gone")
    for name in ("alice", "bob"):
        taste_edge_set(user=users[name], kind=ItemKind.TRACK, item=gone, relation=Relation.LIKE)
    gone.delete()
    users["gina"] = gina
    _anime_and_manga(users)
    return world


def _anime_and_manga(users: dict[str, User]) -> None:
    """Titles from MyAnimeList: liked (scored 8 or more) and ranked, shared unevenly, so the
    anime and manga cells weigh in the scores, the shared items and the recommendations."""
    anime = {name: AnimeFactory.create(name=name) for name in ("mushishi", "bebop", "monster")}
    manga = {name: MangaFactory.create(name=name) for name in ("berserk", "yotsuba")}
    likes: dict[str, list[tuple[str, CatalogueItem]]] = {
        "alice": [
            ("anime", anime["mushishi"]),
            ("anime", anime["bebop"]),
            ("manga", manga["berserk"]),
        ],
        "bob": [("anime", anime["mushishi"]), ("manga", manga["berserk"])],
        "carol": [("anime", anime["bebop"]), ("anime", anime["monster"])],
        "erin": [("manga", manga["berserk"]), ("manga", manga["yotsuba"])],
        "gina": [("anime", anime["mushishi"])],
    }
    for name, items in likes.items():
        for kind, item in items:
            taste_edge_set(user=users[name], kind=kind, item=item, relation=Relation.LIKE)
    tops: dict[str, list[tuple[str, CatalogueItem, int]]] = {
        "alice": [("anime", anime["mushishi"], 1), ("anime", anime["bebop"], 2)],
        "dave": [("anime", anime["monster"], 1), ("anime", anime["mushishi"], 2)],
        "bob": [("manga", manga["berserk"], 1)],
        "frank": [("manga", manga["yotsuba"], 1), ("manga", manga["berserk"], 2)],
    }
    for name, ranked in tops.items():
        for kind, item, rank in ranked:
            taste_edge_set(
                user=users[name],
                kind=kind,
                item=item,
                relation=Relation.TOP,
                rank=rank,
            )
