"""History uploads through HTTP: the three formats, the rules, re-uploads, ownership against a
connection, progress, the door, and every bad input (nothing written)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from graph.models import ProjectionOutbox
from musicbud.connections.models import ProviderConnection
from musicbud.imports.models import ImportJob
from musicbud.models import Album, Artist, TasteEdge, Track, User
from musicbud.services.taste_batch import WantedEdge, taste_edges_apply
from tests.factories import UserFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.taste import taste_edges
from tooling.exports import (
    account_stream,
    audiobook_stream,
    dumps,
    episode_stream,
    extended_stream,
    podcast_stream,
    takeout_entry,
    your_library,
    zip_of,
)

Capture = Callable[..., Any]
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
EXTENDED = "Spotify Extended Streaming History/Streaming_History_Audio_2026_0.json"
URL = "/api/v1/me/imports"


@pytest.fixture(autouse=True)
def import_storage(settings: Any, tmp_path: Path) -> Path:
    """Uploads wait in a folder of the test's own."""
    folder = tmp_path / "imports"
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def upload(
    client: Client, capture: Capture, data: bytes, name: str = "my_spotify_data.zip"
) -> Any:
    with capture(execute=True):
        return client.post(URL, {"file": SimpleUploadedFile(name, data)})


def job_answer(client: Client, job_id: int) -> dict[str, Any]:
    response = client.get(f"{URL}/{job_id}")
    assert response.status_code == HTTPStatus.OK, response.content
    body: dict[str, Any] = response.json()
    return body


def extended_export() -> bytes:
    """Two files: track A played 3 times (one under 30 s), B twice, a local file C (no id), a
    podcast episode, an audiobook, an entry without a track, and an old play of D."""
    first = [
        extended_stream(NOW - timedelta(days=3), 200_000, "Song A", "Band", "Album X", "aaa"),
        extended_stream(NOW - timedelta(days=2), 10_000, "Song A", "Band", "Album X", "aaa"),
        extended_stream(NOW - timedelta(days=1), 180_000, "Song B", "Band", "Album X", "bbb"),
        episode_stream(NOW - timedelta(hours=20), 1_800_000, "A Show", "Episode 1"),
        audiobook_stream(NOW - timedelta(hours=19), 900_000, "A Book"),
    ]
    second = [
        extended_stream(NOW - timedelta(hours=10), 60_000, "Song A", "Band", "Album X", "aaa"),
        extended_stream(NOW - timedelta(hours=5), 30_000, "Song B", "Band", "Album X", "bbb"),
        extended_stream(NOW - timedelta(hours=4), 45_000, "Local Song", "Solo", None, None),
        extended_stream(NOW - timedelta(hours=3), 5_000, None, None, None, None),
        extended_stream(NOW - timedelta(days=400), 240_000, "Song D", "Old Band", "Old", "ddd"),
        extended_stream(NOW, 29_999, "Song B", "Band", "Album X", "bbb"),
    ]
    return zip_of(
        {
            EXTENDED: dumps(first),
            EXTENDED.replace("_0.json", "_1.json"): dumps(second),
            "Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf": (
                b"%PDF-1.4 not json"
            ),
        }
    )


def test_an_extended_history_is_imported_by_the_rules(
    api_client: Client,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    import_storage: Path,
) -> None:
    response = upload(api_client, django_capture_on_commit_callbacks, extended_export())

    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    body = response.json()
    job = ImportJob.objects.get()
    assert body == {
        "id": job.pk,
        "status": "queued",
        "format": "spotify_extended",
        "progress": {"done": 0, "total": 0},
        "counts": {"plays": 0, "likes": 0, "top": 0, "skipped": 0, "unmatched": 0},
        "error": None,
        "created_at": body["created_at"],
        "finished_at": None,
    }
    done = job_answer(api_client, job.pk)
    assert done["status"] == "succeeded"
    assert done["progress"] == {"done": 11, "total": 11}
    # Plays: A 2 (200 s, 60 s), B 2 (180 s, 30 s), Local Song 1, D 1.
    assert done["counts"] == {"plays": 6, "likes": 0, "top": 5, "skipped": 3, "unmatched": 0}
    assert done["error"] is None
    assert done["finished_at"] is not None
    source = "spotify_upload"
    # Top by listening time in the 365 days ending at the newest stream: A 270 s, B 239.999 s,
    # Local Song 45 s; D is older than the window. Artists: Band, then Solo.
    assert taste_edges(user) == {
        ("played", "track", "Song A", None, 2, source),
        ("played", "track", "Song B", None, 2, source),
        ("played", "track", "Local Song", None, 1, source),
        ("played", "track", "Song D", None, 1, source),
        ("top", "track", "Song A", 1, None, source),
        ("top", "track", "Song B", 2, None, source),
        ("top", "track", "Local Song", 3, None, source),
        ("top", "artist", "Band", 1, None, source),
        ("top", "artist", "Solo", 2, None, source),
    }
    assert sorted(Track.objects.values_list("name", "spotify_id")) == [
        ("Local Song", None),
        ("Song A", "aaa"),
        ("Song B", "bbb"),
        ("Song D", "ddd"),
    ]
    song_a = Track.objects.get(spotify_id="aaa")
    assert [a.name for a in song_a.artists.all()] == ["Band"]
    assert song_a.album is not None and song_a.album.name == "Album X"
    played_b = TasteEdge.objects.get(user=user, relation="played", track__spotify_id="bbb")
    assert played_b.last_played_at == NOW - timedelta(hours=5)
    assert stored_files(import_storage) == []
    assert ImportJob.objects.get().stored_name == ""


def test_the_same_export_again_changes_nothing_and_a_newer_one_updates(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.GRAPH_PROJECTION = True
    upload(api_client, django_capture_on_commit_callbacks, extended_export())
    edges = {e.pk: (e.rank, e.play_count, e.updated_at) for e in TasteEdge.objects.all()}
    outbox = ProjectionOutbox.objects.count()
    items = (Track.objects.count(), Artist.objects.count(), Album.objects.count())

    again = upload(api_client, django_capture_on_commit_callbacks, extended_export())

    job = ImportJob.objects.get(pk=again.json()["id"])
    assert job.status == "succeeded"
    assert job.items_created == 0
    assert sum(c["added"] + c["updated"] + c["removed"] for k in job.changes.values()
               for c in k.values()) == 0
    assert {e.pk: (e.rank, e.play_count, e.updated_at) for e in TasteEdge.objects.all()} == edges
    assert ProjectionOutbox.objects.count() == outbox
    assert (Track.objects.count(), Artist.objects.count(), Album.objects.count()) == items

    # A newer export: Song B played twice more and now first; Local Song drops out.
    newer = [
        extended_stream(NOW - timedelta(days=3), 200_000, "Song A", "Band", "Album X", "aaa"),
        extended_stream(NOW - timedelta(hours=10), 60_000, "Song A", "Band", "Album X", "aaa"),
        extended_stream(NOW - timedelta(days=1), 180_000, "Song B", "Band", "Album X", "bbb"),
        extended_stream(NOW - timedelta(hours=5), 30_000, "Song B", "Band", "Album X", "bbb"),
        extended_stream(NOW + timedelta(days=1), 100_000, "Song B", "Band", "Album X", "bbb"),
        extended_stream(NOW + timedelta(days=2), 100_000, "Song B", "Band", "Album X", "bbb"),
    ]
    upload(api_client, django_capture_on_commit_callbacks, zip_of({EXTENDED: dumps(newer)}))

    source = "spotify_upload"
    assert taste_edges(user) == {
        ("played", "track", "Song A", None, 2, source),
        ("played", "track", "Song B", None, 4, source),
        # Plays are only added and updated: the older export's stay.
        ("played", "track", "Local Song", None, 1, source),
        ("played", "track", "Song D", None, 1, source),
        ("top", "track", "Song B", 1, None, source),
        ("top", "track", "Song A", 2, None, source),
        ("top", "artist", "Band", 1, None, source),
    }
    assert ProjectionOutbox.objects.count() > outbox


def test_account_data_with_its_library_becomes_plays_top_and_likes(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Track.objects.create(name="Known Song", spotify_id="known1")
    history = [
        account_stream(NOW - timedelta(days=1), "Singer", "Tune", 120_000),
        account_stream(NOW - timedelta(hours=1), "singer", "TUNE", 40_000),
        account_stream(NOW, "Other", "Short", 1_000),
    ]
    podcasts = [podcast_stream(NOW, "A Show", "Episode 9", 2_000_000)]
    library = your_library(
        tracks=[("Singer", "Record", "Known Song", "known1"), ("Singer", "Record", "Tune", "t1")],
        albums=[("Singer", "Record", "r1")],
        artists=[("Singer", "s1")],
    )
    export = zip_of(
        {
            "Spotify Account Data/StreamingHistory_music_0.json": dumps(history),
            "Spotify Account Data/StreamingHistory_podcast_0.json": dumps(podcasts),
            "Spotify Account Data/YourLibrary.json": dumps(library),
            "Spotify Account Data/Userdata.json": dumps({"username": "x", "country": "DE"}),
        }
    )

    response = upload(api_client, django_capture_on_commit_callbacks, export)

    done = job_answer(api_client, response.json()["id"])
    assert done["format"] == "spotify_account"
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"done": 8, "total": 8}
    assert done["counts"] == {"plays": 2, "likes": 4, "top": 4, "skipped": 1, "unmatched": 0}
    source = "spotify_upload"
    assert taste_edges(user) == {
        ("played", "track", "Tune", None, 2, source),
        ("top", "track", "Tune", 1, None, source),
        ("top", "track", "Short", 2, None, source),
        ("top", "artist", "Singer", 1, None, source),
        ("top", "artist", "Other", 2, None, source),
        ("like", "track", "Known Song", None, None, source),
        ("like", "track", "Tune", None, None, source),
        ("like", "album", "Record", None, None, source),
        ("like", "artist", "Singer", None, None, source),
    }
    # The liked "Known Song" is the catalogue's row (matched by its Spotify id), and the liked
    # "Tune" (an id) took the row the history created by name.
    assert Track.objects.filter(name="Known Song").count() == 1
    assert Track.objects.filter(name__iexact="tune").count() == 1


def test_youtube_music_entries_of_a_takeout_are_imported(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    history = [
        takeout_entry(NOW, "Watched Night Drive", video_id="vid1", artist="Synth - Topic",
                      channel_id="UCsynth"),
        takeout_entry(NOW - timedelta(days=1), "Watched Night Drive", video_id="vid1",
                      artist="Synth - Topic", channel_id="UCsynth"),
        takeout_entry(NOW - timedelta(days=2), "Watched Day Walk", video_id="vid2",
                      artist="Synth - Topic", channel_id="UCsynth"),
        takeout_entry(NOW - timedelta(days=2), "Watched a cat video", video_id="cat",
                      artist="Cats", header="YouTube"),
        takeout_entry(NOW - timedelta(days=3), "Watched https://music.youtube.com/watch?v=gone",
                      video_id="gone"),
    ]
    export = zip_of({"Takeout/YouTube and YouTube Music/history/watch-history.json":
                     dumps(history)})

    response = upload(api_client, django_capture_on_commit_callbacks, export, "takeout.zip")

    done = job_answer(api_client, response.json()["id"])
    assert done["format"] == "ytmusic_takeout"
    assert done["counts"] == {"plays": 3, "likes": 0, "top": 3, "skipped": 1, "unmatched": 1}
    source = "ytmusic_upload"
    assert taste_edges(user) == {
        ("played", "track", "Night Drive", None, 2, source),
        ("played", "track", "Day Walk", None, 1, source),
        ("top", "track", "Night Drive", 1, None, source),
        ("top", "track", "Day Walk", 2, None, source),
        ("top", "artist", "Synth", 1, None, source),
    }
    assert sorted(Track.objects.values_list("name", "ytmusic_id")) == [
        ("Day Walk", "vid2"),
        ("Night Drive", "vid1"),
    ]
    assert list(Artist.objects.values_list("name", "ytmusic_id")) == [("Synth", "UCsynth")]


def test_a_single_json_file_is_an_upload_too(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    data = dumps([extended_stream(NOW, 31_000, "Solo Song", "Solo", None, "sss")])

    response = upload(api_client, django_capture_on_commit_callbacks, data, "whatever.txt")

    assert job_answer(api_client, response.json()["id"])["counts"]["plays"] == 1
    assert taste_edges(user, "spotify_upload") == {
        ("played", "track", "Solo Song", None, 1, "spotify_upload"),
        ("top", "track", "Solo Song", 1, None, "spotify_upload"),
        ("top", "artist", "Solo", 1, None, "spotify_upload"),
    }
