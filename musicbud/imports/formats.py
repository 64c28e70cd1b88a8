"""The export formats, recognised by content (never by file name), and read as streams: each
JSON file is parsed incrementally (ijson), one entry at a time, so a file is never held whole.

Shapes, by the first entry of a file (or an object's top-level keys):

- ``extended``: Spotify Extended streaming history, ``{"ts", "ms_played", ...}``;
- ``account``: Spotify Account data history, ``{"endTime", "artistName", "trackName",
  "msPlayed"}``; ``account_podcast``: its podcasts, ``{"endTime", "podcastName",
  "episodeName", "msPlayed"}`` (all skipped);
- ``library``: Spotify ``YourLibrary.json``, an object with ``tracks``, ``albums``,
  ``artists``;
- ``takeout``: a Google Takeout watch history, ``{"header", "title", "time", ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import ijson

from musicbud.errors import InvalidInput
from musicbud.imports.archive import (
    HEAD_BYTES,
    UTF8_BOM,
    UploadParts,
    display_name,
    json_start,
)
from musicbud.imports.models import ImportFormat

# How many parse events a top-level object is searched for the library's keys.
OBJECT_SCAN_EVENTS = 20_000
SHAPE_FORMAT = {
    "extended": ImportFormat.SPOTIFY_EXTENDED,
    "account": ImportFormat.SPOTIFY_ACCOUNT,
    "account_podcast": ImportFormat.SPOTIFY_ACCOUNT,
    "library": ImportFormat.SPOTIFY_ACCOUNT,
    "takeout": ImportFormat.YTMUSIC_TAKEOUT,
}
FORMAT_PROVIDER = {
    ImportFormat.SPOTIFY_EXTENDED: "spotify",
    ImportFormat.SPOTIFY_ACCOUNT: "spotify",
    ImportFormat.YTMUSIC_TAKEOUT: "ytmusic",
}
LIBRARY_SECTIONS = ("tracks", "albums", "artists")
# The key each entry of a shape must have (its time): what counting an entry reads.
COUNTED_KEY = {
    "extended": "ts",
    "account": "endTime",
    "account_podcast": "endTime",
    "takeout": "time",
}
YTMUSIC_HEADER = "YouTube Music"
WATCHED_PREFIX = "Watched "
TOPIC_SUFFIX = " - Topic"


class JsonInvalid(InvalidInput):
    code = "json_invalid"


class FieldTypeInvalid(InvalidInput):
    code = "field_type_invalid"


class FormatUnrecognised(InvalidInput):
    code = "format_unrecognised"


class FormatsMixed(InvalidInput):
    code = "formats_mixed"


@dataclass(frozen=True, slots=True)
class Part:
    """One recognised file of the upload."""

    name: str
    shape: str


class Stream(NamedTuple):
    """One stream of a history, as every format is read into: ``music`` False for what is
    skipped (an episode, an audiobook, an entry without a track, plain YouTube). A tuple:
    one is made per stream, and a tuple is the cheapest object to make."""

    at: datetime
    ms: int | None
    music: bool
    track: str | None = None
    artist: str | None = None
    album: str | None = None
    track_id: str | None = None
    artist_id: str | None = None


@dataclass(frozen=True, slots=True)
class Liked:
    """One entry of ``YourLibrary.json``."""

    kind: str  # track | album | artist
    name: str
    artist: str | None
    album: str | None
    provider_id: str | None


# --- reading JSON with positions --------------------------------------------------------------


class _Reader:
    """A binary stream counting what the parser read, so a parse error can name its byte.
    From ``slow_from`` on it hands one byte per read: the parser then stops exactly at the
    byte it could not take."""

    def __init__(self, stream: IO[bytes], *, slow_from: int | None = None) -> None:
        self.stream = stream
        self.position = 0
        self.last_start = 0
        self.slow_from = slow_from

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # the parser's look at what the stream gives (bytes or text)
        if self.slow_from is not None and self.position >= self.slow_from:
            size = 1
        elif self.slow_from is not None and size > 0:
            size = min(size, self.slow_from - self.position)
        chunk = self.stream.read(size)
        self.last_start = self.position
        self.position += len(chunk)
        return chunk


def _json_error(name: str, offset: int, exc: Exception) -> JsonInvalid:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = reason.rstrip(".")
    return JsonInvalid(
        f"{display_name(name)} is not valid JSON at byte {offset}: {reason}.",
        details=[{"file": display_name(name), "offset": offset}],
    )


_PARSE_ERRORS = (ijson.JSONError, UnicodeDecodeError, ValueError)


def _events(
    parts: UploadParts, name: str, walk: Callable[[IO[bytes]], Iterator[Any]]
) -> Iterator[Any]:
    """``walk`` over the part, a parse error becoming a :class:`JsonInvalid` naming the file
    and the byte it stopped at (found by reading the part again, slowly from the chunk where
    the first reading failed)."""
    with parts.open(name) as stream:
        reader = _Reader(stream)
        try:
            yield from walk(reader)  # type: ignore[arg-type]
        except _PARSE_ERRORS as exc:
            failed_chunk, error = reader.last_start, exc
        else:
            return
    with parts.open(name) as stream:
        reader = _Reader(stream, slow_from=failed_chunk)
        try:
            for _ in walk(reader):  # type: ignore[arg-type]
                pass
        except _PARSE_ERRORS as exc:
            raise _json_error(name, reader.last_start, exc) from None
    raise _json_error(name, failed_chunk, error)


def _items(prefix: str) -> Callable[[IO[bytes]], Iterator[Any]]:
    return lambda stream: ijson.items(stream, prefix, use_float=True)


# --- recognition ------------------------------------------------------------------------------


def _shape_of_entry(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    if "ts" in entry and "ms_played" in entry:
        return "extended"
    if "endTime" in entry and "msPlayed" in entry:
        if "trackName" in entry or "artistName" in entry:
            return "account"
        if "episodeName" in entry or "podcastName" in entry:
            return "account_podcast"
    if "header" in entry and "title" in entry and "time" in entry:
        return "takeout"
    return None


def _object_has_library(stream: IO[bytes]) -> Iterator[bool]:
    for seen, (prefix, event, value) in enumerate(ijson.parse(stream)):
        if prefix == "" and event == "map_key" and value in LIBRARY_SECTIONS:
            yield True
            return
        if seen >= OBJECT_SCAN_EVENTS or (prefix == "" and event == "end_map"):
            break
    yield False


def part_shape(parts: UploadParts, name: str) -> str | None:
    """The shape of one file (None: not one of the formats, ignored), from its first entry
    (or, for an object, its top-level keys)."""
    with parts.open(name) as stream:
        head = stream.read(HEAD_BYTES)
    if not json_start(head):
        return None
    if head.removeprefix(UTF8_BOM).lstrip()[:1] == b"{":
        return "library" if any(_events(parts, name, _object_has_library)) else None
    for entry in _events(parts, name, _items("item")):
        return _shape_of_entry(entry)
    return None  # an empty array says nothing


def upload_parts_recognise(parts: UploadParts) -> tuple[str, list[Part]]:
    """The upload's format and its recognised files (in name order). Files of no known shape
    are ignored (an export holds many); none recognised is a 422, as is a mix of services."""
    found = []
    for name in sorted(parts.names):
        shape = part_shape(parts, name)
        if shape is not None:
            found.append(Part(name=name, shape=shape))
    if not found:
        raise FormatUnrecognised(
            "No Spotify streaming history, Spotify library or YouTube Music watch history "
            "was found in the upload."
        )
    formats = {SHAPE_FORMAT[part.shape] for part in found}
    providers = {FORMAT_PROVIDER[fmt] for fmt in formats}
    if len(providers) > 1:
        raise FormatsMixed("The upload mixes exports of different services: upload them apart.")
    # A Spotify upload holding both histories is read as the Extended one (it is the fuller).
    for fmt in (
        ImportFormat.SPOTIFY_EXTENDED,
        ImportFormat.SPOTIFY_ACCOUNT,
        ImportFormat.YTMUSIC_TAKEOUT,
    ):
        if fmt in formats:
            return fmt, found
    raise AssertionError(formats)  # pragma: no cover - every shape has a format


# --- counting ---------------------------------------------------------------------------------


def part_count(parts: UploadParts, part: Part) -> int:
    """How many entries the part holds (streams, or library entries): the progress' total."""
    if part.shape == "library":
        return sum(
            sum(1 for _ in _events(parts, part.name, _items(f"{section}.item")))
            for section in LIBRARY_SECTIONS
        )
    # Only a key every entry must have is built (a time), which counts faster than entries.
    return sum(1 for _ in _events(parts, part.name, _items(f"item.{COUNTED_KEY[part.shape]}")))


# --- fields -----------------------------------------------------------------------------------


class _Fields:
    """Typed reads of one entry; a wrong type names the file, the entry and the field."""

    __slots__ = ("entry", "index", "name")

    def __init__(self, name: str, index: int, entry: Any) -> None:
        self.name = name
        self.index = index
        if not isinstance(entry, dict):
            raise self.error("the entry", "an object")
        self.entry: dict[str, Any] = entry

    def error(self, field: str, wanted: str) -> FieldTypeInvalid:
        where = f"{display_name(self.name)}, entry {self.index}"
        return FieldTypeInvalid(
            f"{where}: {field} must be {wanted}.",
            details=[{"file": display_name(self.name), "entry": self.index, "field": field}],
        )

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.entry.get(key)
        if isinstance(value, str):
            return value
        if value is None and not required:
            return None
        raise self.error(key, "a string" if required else "a string or null")

    def integer(self, key: str) -> int:
        value = self.entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise self.error(key, "a whole number of 0 or more")

    def flag(self, key: str) -> None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.error(key, "true, false or null")

    def time(self, key: str) -> datetime:
        value = self.text(key, required=True)
        try:
            at = datetime.fromisoformat(value or "")
        except ValueError:
            raise self.error(key, "a date and time (ISO 8601)") from None
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _spotify_id(uri: str | None, kind: str) -> str | None:
    prefix = f"spotify:{kind}:"
    if uri and uri.startswith(prefix) and len(uri) > len(prefix):
        return uri[len(prefix) :]
    return None


_EXTENDED_TEXTS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
)
_EXTENDED_OTHER = (
    "episode_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
)
_TRACK_URI = "spotify:track:"


def _extended(name: str, index: int, entry: Any) -> Stream:
    """The common case read with no checking object: every field of the right type, a music
    stream with a UTC time. Anything else goes through ``_extended_checked`` (which names a
    wrong field)."""
    if type(entry) is not dict:
        return _extended_checked(name, index, entry)
    get = entry.get
    ts, ms = get("ts"), get("ms_played")
    track, artist, album, uri = (get(key) for key in _EXTENDED_TEXTS)
    skipped = get("skipped")
    if (
        type(ts) is not str
        or not ts.endswith("Z")
        or type(ms) is not int
        or ms < 0
        or type(track) is not str
        or not track
        or (artist is not None and type(artist) is not str)
        or (album is not None and type(album) is not str)
        or (uri is not None and type(uri) is not str)
        or (skipped is not None and type(skipped) is not bool)
        or any(get(key) is not None for key in _EXTENDED_OTHER)
    ):
        return _extended_checked(name, index, entry)
    try:
        at = datetime.fromisoformat(ts)
    except ValueError:
        return _extended_checked(name, index, entry)
    track_id = uri[len(_TRACK_URI) :] if uri and uri.startswith(_TRACK_URI) else None
    return Stream(at, ms, True, track, artist or None, album or None, track_id or None)


def _extended_checked(name: str, index: int, entry: Any) -> Stream:
    fields = _Fields(name, index, entry)
    at = fields.time("ts")
    ms = fields.integer("ms_played")
    track = fields.text("master_metadata_track_name")
    artist = fields.text("master_metadata_album_artist_name")
    album = fields.text("master_metadata_album_album_name")
    uri = fields.text("spotify_track_uri")
    fields.flag("skipped")
    other = [
        fields.text(key)
        for key in (
            "episode_name",
            "spotify_episode_uri",
            "audiobook_title",
            "audiobook_uri",
            "audiobook_chapter_uri",
        )
        if key in fields.entry
    ]
    if any(other) or not track:
        return Stream(at=at, ms=ms, music=False)
    return Stream(
        at=at,
        ms=ms,
        music=True,
        track=track,
        artist=artist or None,
        album=album or None,
        track_id=_spotify_id(uri, "track"),
    )


def _account(name: str, index: int, entry: Any) -> Stream:
    fields = _Fields(name, index, entry)
    at = fields.time("endTime")
    ms = fields.integer("msPlayed")
    if "trackName" not in fields.entry and "artistName" not in fields.entry:
        fields.text("episodeName")
        return Stream(at=at, ms=ms, music=False)
    track = fields.text("trackName")
    artist = fields.text("artistName")
    if not track:
        return Stream(at=at, ms=ms, music=False)
    return Stream(at=at, ms=ms, music=True, track=track, artist=artist or None)


def _video_id(url: str | None) -> str | None:
    if not url:
        return None
    ids = parse_qs(urlsplit(url).query).get("v")
    return ids[0][:128] if ids and ids[0] else None


def _channel_id(url: str | None) -> str | None:
    if not url:
        return None
    segments = urlsplit(url).path.strip("/").split("/")
    if len(segments) == 2 and segments[0] == "channel" and segments[1]:
        return segments[1][:128]
    return None


def _takeout(name: str, index: int, entry: Any) -> Stream:
    fields = _Fields(name, index, entry)
    header = fields.text("header", required=True)
    title = fields.text("title", required=True) or ""
    at = fields.time("time")
    url = fields.text("titleUrl")
    subtitles = fields.entry.get("subtitles")
    artist = artist_id = None
    if subtitles is not None:
        if not isinstance(subtitles, list) or not all(isinstance(s, dict) for s in subtitles):
            raise fields.error("subtitles", "a list of objects")
        if subtitles:
            first = _Fields(name, index, subtitles[0])
            artist = first.text("name")
            artist_id = _channel_id(first.text("url"))
    if header != YTMUSIC_HEADER or not title.startswith(WATCHED_PREFIX):
        return Stream(at=at, ms=None, music=False)
    track = title[len(WATCHED_PREFIX) :].strip()
    if artist and artist.endswith(TOPIC_SUFFIX):
        artist = artist[: -len(TOPIC_SUFFIX)]
    if track.startswith(("http://", "https://")):
        # A video no longer available: Takeout gives its address for a title.
        track = ""
    return Stream(
        at=at,
        ms=None,
        music=True,
        track=track or None,
        artist=artist or None,
        track_id=_video_id(url),
        artist_id=artist_id if artist else None,
    )


READERS: dict[str, Callable[[str, int, Any], Stream]] = {
    "extended": _extended,
    "account": _account,
    "account_podcast": _account,
    "takeout": _takeout,
}


def part_streams(parts: UploadParts, part: Part) -> Iterator[Stream]:
    read = READERS[part.shape]
    for index, entry in enumerate(_events(parts, part.name, _items("item"))):
        yield read(part.name, index, entry)


def part_library(parts: UploadParts, part: Part) -> Iterator[Liked]:
    for section in LIBRARY_SECTIONS:
        items = _events(parts, part.name, _items(f"{section}.item"))
        for index, entry in enumerate(items):
            fields = _Fields(f"{part.name} {section}", index, entry)
            yield _liked(section, fields)


def _liked(section: str, fields: _Fields) -> Liked:
    uri = fields.text("uri")
    if section == "artists":
        name = fields.text("name", required=True) or ""
        return Liked("artist", name, None, None, _spotify_id(uri, "artist"))
    artist = fields.text("artist")
    album = fields.text("album")
    if section == "albums":
        return Liked("album", album or "", artist, None, _spotify_id(uri, "album"))
    track = fields.text("track", required=True) or ""
    return Liked("track", track, artist, album, _spotify_id(uri, "track"))
