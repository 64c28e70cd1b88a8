"""Generated streaming-history exports shaped like the real ones (every field the services
write), for the upload tests and ``manage.py import_bench``: Spotify's Extended streaming
history and Account data, and a Google Takeout watch history."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

Entry = dict[str, Any]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def extended_stream(
    at: datetime,
    ms: int,
    track: str | None,
    artist: str | None,
    album: str | None = None,
    track_id: str | None = None,
    **fields: Any,
) -> Entry:
    """One entry of ``Streaming_History_Audio_*.json``."""
    entry: Entry = {
        "ts": _iso(at),
        "platform": "android",
        "ms_played": ms,
        "conn_country": "DE",
        "ip_addr": "192.0.2.10",
        "master_metadata_track_name": track,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": f"spotify:track:{track_id}" if track_id else None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone" if ms >= 30_000 else "fwdbtn",
        "shuffle": False,
        "skipped": ms < 30_000,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }
    entry.update(fields)
    return entry


def episode_stream(at: datetime, ms: int, show: str, episode: str) -> Entry:
    return extended_stream(
        at,
        ms,
        None,
        None,
        episode_name=episode,
        episode_show_name=show,
        spotify_episode_uri="spotify:episode:4rOoJ6Egrf8K2IrywzwOMk",
    )


def audiobook_stream(at: datetime, ms: int, title: str) -> Entry:
    return extended_stream(
        at,
        ms,
        None,
        None,
        audiobook_title=title,
        audiobook_uri="spotify:show:7iHfbu1YPACw6oZPAFJtqe",
        audiobook_chapter_uri="spotify:episode:0Q86acNRm6V9GYx55SXKwf",
        audiobook_chapter_title="Chapter 1",
    )


def account_stream(at: datetime, artist: str, track: str, ms: int) -> Entry:
    """One entry of ``StreamingHistory_music_*.json`` (minute precision, no seconds)."""
    return {
        "endTime": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "artistName": artist,
        "trackName": track,
        "msPlayed": ms,
    }


def podcast_stream(at: datetime, show: str, episode: str, ms: int) -> Entry:
    return {
        "endTime": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "podcastName": show,
        "episodeName": episode,
        "msPlayed": ms,
    }


def your_library(
    tracks: Sequence[tuple[str, str, str, str]] = (),
    albums: Sequence[tuple[str, str, str]] = (),
    artists: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """``YourLibrary.json``: tracks (artist, album, track, id), albums (artist, album, id),
    artists (name, id)."""
    return {
        "tracks": [
            {"artist": a, "album": al, "track": t, "uri": f"spotify:track:{i}"}
            for a, al, t, i in tracks
        ],
        "albums": [{"artist": a, "album": al, "uri": f"spotify:album:{i}"} for a, al, i in albums],
        "shows": [],
        "episodes": [],
        "bannedTracks": [],
        "artists": [{"name": n, "uri": f"spotify:artist:{i}"} for n, i in artists],
        "bannedArtists": [],
        "other": [],
    }


def takeout_entry(
    at: datetime,
    title: str,
    *,
    video_id: str | None,
    artist: str | None = None,
    channel_id: str | None = None,
    header: str = "YouTube Music",
) -> Entry:
    """One entry of a Takeout ``watch-history.json``."""
    entry: Entry = {
        "header": header,
        "title": title,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "products": ["YouTube"],
        "activityControls": ["YouTube watch history"],
    }
    host = "music.youtube.com" if header == "YouTube Music" else "www.youtube.com"
    if video_id:
        entry["titleUrl"] = f"https://{host}/watch?v={video_id}"
    if artist:
        entry["subtitles"] = [
            {"name": artist, "url": f"https://www.youtube.com/channel/{channel_id or 'UCx'}"}
        ]
    return entry


def dumps(value: Any) -> bytes:
    """As the services write their files: indented JSON."""
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def zip_of(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def extended_history(
    *,
    streams: int = 100_000,
    tracks: int = 8_000,
    files: int = 8,
    seed: int = 19,
    end: datetime | None = None,
    prefix: str = "",
) -> dict[str, bytes]:
    """An Extended streaming history of ``streams`` streams over about three years, as the
    export names its files (``Spotify Extended Streaming History/Streaming_History_Audio_
    <years>_<n>.json``), with the real mix: skips, a few episodes, an occasional local file.
    ``prefix`` starts every name and id (a catalogue the run has not seen yet)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    end = end or datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    artists = [f"{prefix}Artist {n:04d}" for n in range(max(tracks // 8, 1))]
    catalogue = []
    for n in range(tracks):
        artist = artists[int(rng.paretovariate(1.2)) % len(artists)]
        catalogue.append(
            (
                f"{prefix}Track {n:05d}",
                artist,
                f"{prefix}Album {n // 10:04d}",
                f"{prefix.strip()}{n:0{22 - len(prefix.strip())}d}",
            )
        )
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(tracks)]
    chosen = rng.choices(catalogue, weights=weights, k=streams)
    span = timedelta(days=3 * 365).total_seconds()
    step = span / streams
    entries = []
    for index, (track, artist, album, track_id) in enumerate(chosen):
        at = end - timedelta(seconds=span - index * step)
        roll = rng.random()
        if roll < 0.01:
            entries.append(episode_stream(at, rng.randint(1_000, 3_000_000), "Show", "Episode"))
            continue
        ms = rng.randint(500, 29_000) if roll < 0.25 else rng.randint(30_000, 300_000)
        local = roll > 0.995
        entries.append(extended_stream(at, ms, track, artist, album, None if local else track_id))
    per_file = -(-len(entries) // files)
    out = {}
    for number in range(files):
        part = entries[number * per_file : (number + 1) * per_file]
        if not part:
            continue
        years = f"{part[0]['ts'][:4]}-{part[-1]['ts'][:4]}"
        name = f"Streaming_History_Audio_{years}_{number}.json"
        out[f"Spotify Extended Streaming History/{name}"] = dumps(part)
    return out
