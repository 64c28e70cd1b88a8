"""History uploads through HTTP: the three formats, the rules, re-uploads, ownership against a
connection, progress, the door, and every bad input (nothing written)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

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


def upload(client: Client, capture: Capture, data: bytes, name: str = "my_spotify_data.zip") -> Any:
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
    assert song_a.album is not None
    assert song_a.album.name == "Album X"
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
    assert (
        sum(
            c["added"] + c["updated"] + c["removed"]
            for k in job.changes.values()
            for c in k.values()
        )
        == 0
    )
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
        takeout_entry(
            NOW,
            "Watched Night Drive",
            video_id="vid1",
            artist="Synth - Topic",
            channel_id="UCsynth",
        ),
        takeout_entry(
            NOW - timedelta(days=1),
            "Watched Night Drive",
            video_id="vid1",
            artist="Synth - Topic",
            channel_id="UCsynth",
        ),
        takeout_entry(
            NOW - timedelta(days=2),
            "Watched Day Walk",
            video_id="vid2",
            artist="Synth - Topic",
            channel_id="UCsynth",
        ),
        takeout_entry(
            NOW - timedelta(days=2),
            "Watched a cat video",
            video_id="cat",
            artist="Cats",
            header="YouTube",
        ),
        takeout_entry(
            NOW - timedelta(days=3),
            "Watched https://music.youtube.com/watch?v=gone",
            video_id="gone",
        ),
    ]
    export = zip_of(
        {"Takeout/YouTube and YouTube Music/history/watch-history.json": dumps(history)}
    )

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


# --- ownership against a connection of the same service --------------------------------------


def test_upload_taste_stays_when_the_connection_goes_and_never_duplicates_an_edge(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    # Given a Spotify connection whose sync brought a play of Song A and a like of Synced.
    ProviderConnection.objects.create(
        user=user, provider="spotify", account_id="acct", connected_at=NOW
    )
    song_a = Track.objects.create(name="Song A", spotify_id="aaa")
    synced = Track.objects.create(name="Synced", spotify_id="syn")
    taste_edges_apply(
        user=user,
        source="spotify",
        wanted=[
            WantedEdge(relation="played", kind="track", item=song_a, play_count=7),
            WantedEdge(relation="like", kind="track", item=synced),
        ],
        replace_source=True,
    )

    # When the history is uploaded, it takes the synced play over (one edge, its counts).
    upload(api_client, django_capture_on_commit_callbacks, extended_export())
    assert TasteEdge.objects.filter(user=user, relation="played", track=song_a).count() == 1
    played = TasteEdge.objects.get(user=user, relation="played", track=song_a)
    assert (played.source, played.play_count) == ("spotify_upload", 2)

    # A later sync naming the same play leaves the upload's edge alone.
    report = taste_edges_apply(
        user=user,
        source="spotify",
        wanted=[
            WantedEdge(relation="played", kind="track", item=song_a, play_count=9),
            WantedEdge(relation="like", kind="track", item=synced),
        ],
        replace_source=True,
    )
    assert report.kept == 1
    played.refresh_from_db()
    assert (played.source, played.play_count) == ("spotify_upload", 2)

    # Then the disconnect removes only what the sync brought.
    with django_capture_on_commit_callbacks(execute=True):
        removed = api_client.delete("/api/v1/connections/spotify")
    assert removed.status_code == HTTPStatus.NO_CONTENT, removed.content
    assert taste_edges(user, "spotify") == set()
    assert len(taste_edges(user, "spotify_upload")) == 9
    assert ("played", "track", "Song A", None, 2, "spotify_upload") in taste_edges(user)


# --- jobs: list, one at a time, progress, privacy -------------------------------------------


def test_my_imports_are_listed_newest_first_in_pages_and_are_mine_alone(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    data = dumps([extended_stream(NOW, 31_000, "Solo Song", "Solo", None, "sss")])
    ids = [
        upload(api_client, django_capture_on_commit_callbacks, data, "a.json").json()["id"]
        for _ in range(3)
    ]
    other = ImportJob.objects.create(user=UserFactory.create(), format="spotify_extended")

    first = api_client.get(URL, {"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    assert first["next"] is not None
    second = api_client.get(first["next"]).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]
    assert second["next"] is None
    assert_envelope(api_client.get(f"{URL}/{other.pk}"), HTTPStatus.NOT_FOUND, "import_not_found")


def test_a_second_upload_while_one_runs_is_a_409(
    api_client: Client,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    import_storage: Path,
) -> None:
    ImportJob.objects.create(user=user, format="spotify_extended", status="running")
    ImportJob.objects.filter(user=user).update(heartbeat_at=NOW.now(UTC))

    response = upload(api_client, django_capture_on_commit_callbacks, extended_export())

    assert_envelope(response, HTTPStatus.CONFLICT, "import_running")
    assert ImportJob.objects.count() == 1
    assert stored_files(import_storage) == []


def test_a_lost_import_does_not_block_the_next_upload(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    lost = ImportJob.objects.create(user=user, format="spotify_extended", status="running")
    ImportJob.objects.filter(pk=lost.pk).update(
        created_at=NOW.now(UTC) - timedelta(hours=1),
        heartbeat_at=NOW.now(UTC) - timedelta(hours=1),
    )

    response = upload(api_client, django_capture_on_commit_callbacks, extended_export())

    assert response.status_code == HTTPStatus.ACCEPTED
    lost.refresh_from_db()
    assert (lost.status, lost.error_code) == ("failed", "import_lost")
    assert job_answer(api_client, response.json()["id"])["status"] == "succeeded"


def test_progress_moves_while_the_job_reads(
    api_client: Client,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from musicbud.imports import services

    # Report at every entry (the job reports every half second at most).
    monkeypatch.setattr(services, "PROGRESS_CHECK_EVERY", 1)
    monkeypatch.setattr(services, "PROGRESS_EVERY_SECONDS", 0.0)
    with CaptureQueriesContext(connection) as queries:
        response = upload(api_client, django_capture_on_commit_callbacks, extended_export())

    job_id = response.json()["id"]
    written = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "imports_importjob"') and '"progress_done" =' in q["sql"]
    ]
    assert len(written) >= 11
    assert job_answer(api_client, job_id)["progress"] == {"done": 11, "total": 11}


# --- the door: NUL bytes, sizes --------------------------------------------------------------


def test_a_file_part_may_hold_nul_bytes_but_fields_and_json_may_not(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    export = extended_export()
    assert b"\x00" in export  # every zip does

    assert upload(api_client, django_capture_on_commit_callbacks, export).status_code == 202
    with_field = api_client.post(
        URL, {"file": SimpleUploadedFile("a.zip", export), "note": "a\x00b"}
    )
    assert_envelope(
        with_field,
        HTTPStatus.BAD_REQUEST,
        "bad_request",
        "NUL characters are not allowed in the path, query or body",
    )
    extra = api_client.post(URL, {"file": SimpleUploadedFile("a.zip", export), "note": "hi"})
    body = assert_envelope(extra, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert body["details"] == [
        {
            "field": "body.note",
            "message": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]
    as_json = api_client.post(URL, '{"file": "a\\u0000b"}', content_type="application/json")
    assert_envelope(as_json, HTTPStatus.BAD_REQUEST, "bad_request")
    assert ImportJob.objects.count() == 1


def test_over_the_upload_limit_is_a_413_and_others_keep_the_small_limit(
    api_client: Client, user: User, settings: Any, import_storage: Path
) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    export = extended_export()
    assert len(export) > 1000

    # Within the door's limit for the path, over the upload limit: the service's 413.
    response = api_client.post(URL, {"file": SimpleUploadedFile("a.zip", export)})
    assert_envelope(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "upload_too_large",
        f"The upload is {len(export)} bytes, over the limit of 1000.",
    )
    # Over the path's own body limit: the door refuses it before reading it.
    settings.UPLOAD_BODY_LIMITS = {URL: 1000}
    response = api_client.post(URL, {"file": SimpleUploadedFile("a.zip", export)})
    assert_envelope(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        "Request body is larger than 1000 bytes",
    )
    # Any other path keeps MAX_REQUEST_BODY_BYTES.
    settings.UPLOAD_BODY_LIMITS = {URL: 10**9}
    settings.MAX_REQUEST_BODY_BYTES = 1000
    other = api_client.post("/api/v1/me/taste/import", "x" * 2000, content_type="application/json")
    assert_envelope(other, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large")
    assert ImportJob.objects.count() == 0
    assert stored_files(import_storage) == []


# --- bad input: a clear error, nothing written -----------------------------------------------


def _zip_entries(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


BROKEN_EARLY = b'[\n  {"ts": "2026-11-01T12:00:00Z", "ms_played": 40000,, }\n]'
GOOD_FIRST = dumps([extended_stream(NOW, 31_000, "Solo Song", "Solo", None, "sss")])
BROKEN_LATE = GOOD_FIRST[:-2] + b',\n  {"ts": tru }\n]'


@pytest.mark.parametrize(
    ("data", "status", "code", "message"),
    [
        pytest.param(
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "upload_unsupported",
            "Upload a .zip as the service delivers it, or one of its .json files.",
            id="not-zip-or-json",
        ),
        pytest.param(
            b"PK\x03\x04" + b"garbage" * 10,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "upload_unsupported",
            "The zip cannot be read: File is not a zip file.",
            id="broken-zip",
        ),
        pytest.param(
            _zip_entries({"bomb.json": b"[" + b" " * 5_000_000 + b"]"}),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "zip_too_large",
            "The zip entry 'bomb.json' expands more than 200 times: refused as a zip bomb.",
            id="zip-bomb-ratio",
        ),
        pytest.param(
            _zip_entries({"../evil.json": GOOD_FIRST}),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "zip_entry_path",
            "The zip entry '../evil.json' has an absolute path or a '..' segment.",
            id="dot-dot-path",
        ),
        pytest.param(
            _zip_entries({"/etc/evil.json": GOOD_FIRST}),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "zip_entry_path",
            "The zip entry '/etc/evil.json' has an absolute path or a '..' segment.",
            id="absolute-path",
        ),
        pytest.param(
            zip_of({"history/Streaming_History_Audio_2026.json": BROKEN_EARLY}),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "json_invalid",
            "history/Streaming_History_Audio_2026.json is not valid JSON at byte 54: parse "
            "error: invalid object key (must be a string).",
            id="json-invalid",
        ),
        pytest.param(
            dumps({"username": "x"}),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "format_unrecognised",
            "No Spotify streaming history, Spotify library or YouTube Music watch history was "
            "found in the upload.",
            id="unrecognised",
        ),
        pytest.param(
            zip_of(
                {
                    "a.json": GOOD_FIRST,
                    "watch-history.json": dumps(
                        [takeout_entry(NOW, "Watched X", video_id="v", artist="A")]
                    ),
                }
            ),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "formats_mixed",
            "The upload mixes exports of different services: upload them apart.",
            id="mixed",
        ),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(
    api_client: Client,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    import_storage: Path,
    data: bytes,
    status: int,
    code: str,
    message: str,
) -> None:
    response = upload(api_client, django_capture_on_commit_callbacks, data, "export.zip")

    assert_envelope(response, status, code, message)
    assert ImportJob.objects.count() == 0
    assert stored_files(import_storage) == []
    assert TasteEdge.objects.count() == 0
    assert Track.objects.count() == 0


def test_a_zip_expanding_past_the_limit_is_refused(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.IMPORT_MAX_EXPANDED_BYTES = 100
    data = zip_of({"a.json": GOOD_FIRST})

    response = upload(api_client, django_capture_on_commit_callbacks, data)

    assert_envelope(
        response,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "zip_too_large",
        f"The zip would expand to {len(GOOD_FIRST)} bytes, over the limit of 100.",
    )
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        pytest.param(
            zip_of({"h/Streaming_History_Audio_2026.json": BROKEN_LATE}),
            "json_invalid",
            "h/Streaming_History_Audio_2026.json is not valid JSON at byte "
            f"{BROKEN_LATE.index(b'tru }') + 3}: lexical error: invalid string in json text.",
            id="json-invalid-past-the-first-entry",
        ),
        pytest.param(
            dumps(
                [
                    extended_stream(NOW, 31_000, "Solo Song", "Solo", None, "sss"),
                    extended_stream(NOW, 31_000, "Other", "Solo", None, "ooo", ms_played="31000"),
                ]
            ),
            "field_type_invalid",
            "export.zip, entry 1: ms_played must be a whole number of 0 or more.",
            id="wrong-field-type",
        ),
        pytest.param(
            dumps(
                [
                    account_stream(NOW, "A", "T", 40_000),
                    {**account_stream(NOW, "A", "U", 1), "endTime": "yesterday"},
                ]
            ),
            "field_type_invalid",
            "export.zip, entry 1: endTime must be a date and time (ISO 8601).",
            id="wrong-time",
        ),
        pytest.param(
            zip_of({"YourLibrary.json": dumps({"tracks": [{"track": 5, "artist": "A"}]})}),
            "field_type_invalid",
            "YourLibrary.json tracks, entry 0: track must be a string.",
            id="wrong-library-field",
        ),
    ],
)
def test_errors_found_while_reading_fail_the_job_and_write_nothing(
    api_client: Client,
    user: User,
    django_capture_on_commit_callbacks: Capture,
    import_storage: Path,
    data: bytes,
    code: str,
    message: str,
) -> None:
    response = upload(api_client, django_capture_on_commit_callbacks, data, "export.zip")

    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    done = job_answer(api_client, response.json()["id"])
    assert done["status"] == "failed"
    assert done["error"] == {"code": code, "message": message}
    assert done["finished_at"] is not None
    assert TasteEdge.objects.count() == 0
    assert Track.objects.count() == 0
    assert stored_files(import_storage) == []


def test_uploads_are_rate_limited(
    api_client: Client, user: User, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.RATE_LIMIT_STRICT_PER_MINUTE = 2
    data = dumps([extended_stream(NOW, 31_000, "Solo Song", "Solo", None, "sss")])
    for _ in range(2):
        assert (
            upload(api_client, django_capture_on_commit_callbacks, data, "a.json").status_code
            == 202
        )

    refused = upload(api_client, django_capture_on_commit_callbacks, data, "a.json")

    assert_envelope(refused, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert refused["Retry-After"]
    assert ImportJob.objects.count() == 2
