"""The upload rules on streams: plays, the top lists' window and ties, skips, matching keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from musicbud.imports.formats import Liked, Stream
from musicbud.imports.tally import Tally

END = datetime(2026, 6, 1, tzinfo=UTC)


def _play(at: datetime, ms: int, track: str, artist: str, track_id: str | None = None) -> Stream:
    return Stream(at=at, ms=ms, music=True, track=track, artist=artist, track_id=track_id)


def _ranks(tally: Tally) -> tuple[list[str], list[str]]:
    tracks = [tally.track_rows[index].name for index in tally.top_tracks()]
    return tracks, [name for name, _ in tally.top_artists()]


def test_top_lists_rank_by_time_then_plays_then_name_within_the_window() -> None:
    tally = Tally()
    for stream in [
        _play(END, 100_000, "Beta", "B"),  # 100 s in 1 play
        _play(END - timedelta(days=1), 50_000, "Alpha", "A"),  # 100 s in 2 plays
        _play(END - timedelta(days=2), 50_000, "Alpha", "A"),
        _play(END - timedelta(days=3), 100_000, "Gamma", "C"),  # 100 s in 1 play, after Beta
        _play(END - timedelta(days=365), 900_000, "Old", "D"),  # exactly a year before: out
        _play(END - timedelta(days=364), 1_000, "Short", "E"),  # in, no play, 1 s
    ]:
        tally.add_stream(stream)

    assert _ranks(tally) == (["Alpha", "Beta", "Gamma", "Short"], ["A", "B", "C", "E"])
    assert tally.plays == 5
    assert [(t.name, t.plays) for t in tally.track_rows] == [
        ("Beta", 1),
        ("Alpha", 2),
        ("Gamma", 1),
        ("Old", 1),
        ("Short", 0),
    ]


def test_the_top_lists_stop_at_fifty() -> None:
    tally = Tally()
    for n in range(60):
        tally.add_stream(_play(END, 60_000 + n, f"Song {n:02d}", f"Artist {n:02d}"))

    tracks, artists = _ranks(tally)
    assert tracks == [f"Song {n:02d}" for n in range(59, 9, -1)]
    assert len(artists) == 50


def test_a_play_needs_thirty_seconds_and_keeps_its_newest_time() -> None:
    tally = Tally()
    tally.add_stream(_play(END - timedelta(hours=2), 30_000, "Song", "X", "id1"))
    tally.add_stream(_play(END - timedelta(hours=1), 29_999, "Song", "X", "id1"))
    tally.add_stream(_play(END - timedelta(hours=3), 45_000, "Song", "X", "id1"))

    (track,) = tally.track_rows
    assert (track.plays, track.last_played) == (2, END - timedelta(hours=2))


def test_skipped_and_unmatched_streams_are_counted_not_kept() -> None:
    tally = Tally()
    tally.add_stream(Stream(at=END, ms=600_000, music=False))
    tally.add_stream(Stream(at=END, ms=60_000, music=True, track="No Artist"))
    tally.add_liked(Liked("track", "Lonely", None, None, None))

    assert (tally.skipped, tally.unmatched, tally.track_rows, tally.liked) == (1, 2, [], {})
    assert tally.newest == END


def test_takeout_plays_rank_by_plays() -> None:
    tally = Tally(timed=False)
    for stream in [
        Stream(at=END, ms=None, music=True, track="One", artist="A", track_id="v1"),
        Stream(at=END, ms=None, music=True, track="Two", artist="A", track_id="v2"),
        Stream(at=END, ms=None, music=True, track="Two", artist="A", track_id="v2"),
    ]:
        tally.add_stream(stream)

    assert _ranks(tally) == (["Two", "One"], ["A"])
    assert tally.plays == 3
