"""What a history adds up to, by the upload rules (musicbud/imports/README.md): plays of 30 s
or more per track with the newest time, the top 50 tracks and artists by listening time in the
365 days ending at the newest stream, and the library's likes; as the provider items a sync
writes."""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from musicbud.connections.providers.base import CatalogueEntry, ProviderItem
from musicbud.imports.formats import Liked, Stream
from musicbud.models import ItemKind, Relation

PLAY_MIN_MS = 30_000
TOP_SIZE = 50
TOP_WINDOW = timedelta(days=365)
TrackKey = tuple[str, ...]


@dataclass(slots=True)
class _Track:
    name: str
    artist: str | None
    album: str | None
    track_id: str | None
    artist_id: str | None
    plays: int = 0
    last_played: datetime | None = None


def _track_key(stream: Stream) -> TrackKey:
    if stream.track_id:
        return ("id", stream.track_id)
    return ("name", (stream.track or "").casefold(), (stream.artist or "").casefold())


def _artist_key(track: _Track) -> str:
    return f"id:{track.artist_id}" if track.artist_id else f"name:{(track.artist or '').casefold()}"


@dataclass(slots=True)
class Tally:
    """Streams and library entries added one at a time; ``items`` gives the edges to write.

    Per stream only three numbers are kept (track index, time, milliseconds): the top lists'
    window is known only once the newest stream has been read.
    """

    # Takeout records no durations: its entries are plays, and its top lists rank by plays.
    timed: bool = True
    plays: int = 0
    skipped: int = 0
    unmatched: int = 0
    newest: datetime | None = None
    tracks: dict[TrackKey, int] = field(default_factory=dict)
    track_rows: list[_Track] = field(default_factory=list)
    stream_track: array[int] = field(default_factory=lambda: array("l"))
    stream_at: array[float] = field(default_factory=lambda: array("d"))
    stream_ms: array[int] = field(default_factory=lambda: array("q"))
    liked: dict[tuple[str, str, str], Liked] = field(default_factory=dict)

    def add_stream(self, stream: Stream) -> None:
        if self.newest is None or stream.at > self.newest:
            self.newest = stream.at
        if not stream.music:
            self.skipped += 1
            return
        if not stream.track or not (stream.track_id or stream.artist):
            self.unmatched += 1  # nothing to match it by: no id, and no title with an artist
            return
        key = _track_key(stream)
        index = self.tracks.get(key)
        if index is None:
            index = self.tracks[key] = len(self.track_rows)
            self.track_rows.append(
                _Track(
                    name=stream.track,
                    artist=stream.artist,
                    album=stream.album,
                    track_id=stream.track_id,
                    artist_id=stream.artist_id,
                )
            )
        track = self.track_rows[index]
        ms = stream.ms if stream.ms is not None else 0
        if stream.ms is None or ms >= PLAY_MIN_MS:
            self.plays += 1
            track.plays += 1
            if track.last_played is None or stream.at > track.last_played:
                track.last_played = stream.at
        self.stream_track.append(index)
        self.stream_at.append(stream.at.timestamp())
        self.stream_ms.append(ms)

    def add_liked(self, liked: Liked) -> None:
        if not liked.name or not (liked.provider_id or liked.artist or liked.kind == "artist"):
            self.unmatched += 1
            return
        named = f"{liked.name}\0{liked.artist or ''}".casefold()
        key = (liked.kind, liked.provider_id or "", named)
        self.liked.setdefault(key, liked)

    # --- the edges ------------------------------------------------------------------------

    def _window_sums(self) -> tuple[dict[int, list[int]], dict[str, list[int]]]:
        """Listening ms and plays per track index and per artist key, within the window."""
        by_track: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        if self.newest is None:
            return by_track, {}
        end = self.newest.timestamp()
        start = (self.newest - TOP_WINDOW).timestamp()
        for index, at, ms in zip(self.stream_track, self.stream_at, self.stream_ms, strict=True):
            if start < at <= end:
                sums = by_track[index]
                sums[0] += ms
                sums[1] += int(not self.timed or ms >= PLAY_MIN_MS)
        by_artist: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for index, (ms, plays) in by_track.items():
            track = self.track_rows[index]
            if track.artist:
                sums = by_artist[_artist_key(track)]
                sums[0] += ms
                sums[1] += plays
        return by_track, by_artist

    def _measure(self, ms: int, plays: int) -> int:
        return ms if self.timed else plays

    def top_tracks(self) -> list[int]:
        by_track, _ = self._window_sums()
        ranked = sorted(
            (index for index, (ms, plays) in by_track.items() if self._measure(ms, plays) > 0),
            key=lambda index: (
                -self._measure(*by_track[index]),
                -by_track[index][1],
                self.track_rows[index].name.casefold(),
                (self.track_rows[index].artist or "").casefold(),
                self.track_rows[index].track_id or "",
            ),
        )
        return ranked[:TOP_SIZE]

    def top_artists(self) -> list[tuple[str, str | None]]:
        """(name, provider id) of the top artists, best first."""
        _, by_artist = self._window_sums()
        names: dict[str, tuple[str, str | None]] = {}
        for track in self.track_rows:
            if track.artist:
                names.setdefault(_artist_key(track), (track.artist, track.artist_id))
        ranked = sorted(
            (key for key, (ms, plays) in by_artist.items() if self._measure(ms, plays) > 0),
            key=lambda key: (
                -self._measure(*by_artist[key]),
                -by_artist[key][1],
                names[key][0].casefold(),
                key,
            ),
        )
        return [names[key] for key in ranked[:TOP_SIZE]]

    def _ids_from_library(self) -> None:
        """A track the history names only by title gets the id its library entry gives, so the
        two name one catalogue row."""
        ids = {
            (liked.name.casefold(), (liked.artist or "").casefold()): liked.provider_id
            for liked in self.liked.values()
            if liked.kind == ItemKind.TRACK and liked.provider_id
        }
        if not ids:
            return
        for track in self.track_rows:
            if track.track_id is None:
                track.track_id = ids.get((track.name.casefold(), (track.artist or "").casefold()))

    def items(self) -> list[ProviderItem]:
        """Plays, then top tracks and artists, then likes: as a sync's provider items."""
        self._ids_from_library()
        items: list[ProviderItem] = []
        for track in self.track_rows:
            if track.plays:
                items.append(
                    ProviderItem(
                        relation=Relation.PLAYED,
                        entry=_track_entry(track),
                        play_count=track.plays,
                        last_played_at=track.last_played,
                    )
                )
        for rank, index in enumerate(self.top_tracks(), start=1):
            entry = _track_entry(self.track_rows[index])
            items.append(ProviderItem(relation=Relation.TOP, entry=entry, rank=rank))
        for rank, (name, artist_id) in enumerate(self.top_artists(), start=1):
            entry = CatalogueEntry(kind=ItemKind.ARTIST, name=name, provider_id=artist_id)
            items.append(ProviderItem(relation=Relation.TOP, entry=entry, rank=rank))
        for liked in self.liked.values():
            items.append(ProviderItem(relation=Relation.LIKE, entry=_liked_entry(liked)))
        return items


def _artists(name: str | None, provider_id: str | None = None) -> tuple[CatalogueEntry, ...]:
    if not name:
        return ()
    return (CatalogueEntry(kind=ItemKind.ARTIST, name=name, provider_id=provider_id),)


def _track_entry(track: _Track) -> CatalogueEntry:
    artists = _artists(track.artist, track.artist_id)
    album = (
        CatalogueEntry(kind=ItemKind.ALBUM, name=track.album, artists=artists)
        if track.album
        else None
    )
    return CatalogueEntry(
        kind=ItemKind.TRACK,
        name=track.name,
        provider_id=track.track_id,
        artists=artists,
        album=album,
    )


def _liked_entry(liked: Liked) -> CatalogueEntry:
    if liked.kind == ItemKind.ARTIST:
        return CatalogueEntry(kind=ItemKind.ARTIST, name=liked.name, provider_id=liked.provider_id)
    artists = _artists(liked.artist)
    if liked.kind == ItemKind.ALBUM:
        return CatalogueEntry(
            kind=ItemKind.ALBUM, name=liked.name, provider_id=liked.provider_id, artists=artists
        )
    album = (
        CatalogueEntry(kind=ItemKind.ALBUM, name=liked.album, artists=artists)
        if liked.album
        else None
    )
    return CatalogueEntry(
        kind=ItemKind.TRACK,
        name=liked.name,
        provider_id=liked.provider_id,
        artists=artists,
        album=album,
    )
