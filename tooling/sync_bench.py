"""The provider sync benchmark (``manage.py sync_bench``): a first sync of a large Spotify
library and a re-sync with no change, against the stand-in, through the real services.

It connects a fresh user through the real authorization flow (against an empty library),
then fills the stand-in's library and times a sync request end to end (every page fetched
over HTTP, the catalogue matched and created, the diff written with its versions, outbox rows
and statistics), then times the same request again with nothing changed.
"""

from __future__ import annotations

import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext, override_settings

from graph.models import ProjectionOutbox
from musicbud.models import SyncJob, TasteEdge, User
from musicbud.services.connections import _authorize, _callback, _sync_request
from tooling.provider_standin import ProviderStandIn, SpotifyLibrary, spotify_library


@dataclass(frozen=True, slots=True)
class SyncRun:
    name: str
    seconds: float
    status: str
    fetched: int
    added: int
    removed: int
    unchanged: int
    outbox_rows: int
    queries: int


def _run(name: str, user: User) -> SyncRun:
    outbox_before = ProjectionOutbox.objects.count()
    with CaptureQueriesContext(db_connection) as queries:
        started = time.perf_counter()
        job: SyncJob = _sync_request(user=user, provider="spotify")
        seconds = time.perf_counter() - started
    counts = job.counts

    def total(outcome: str) -> int:
        return sum(c[outcome] for kinds in counts.values() for c in kinds.values())

    return SyncRun(
        name=name,
        seconds=seconds,
        status=job.status if not job.error else f"{job.status}: {job.error}",
        fetched=job.progress,
        added=total("added") if counts else 0,
        removed=total("removed") if counts else 0,
        unchanged=total("unchanged") if counts else 0,
        outbox_rows=ProjectionOutbox.objects.count() - outbox_before,
        queries=len(queries),
    )


def sync_bench_run(
    *, tracks: int, albums: int, follows: int, top: int, say: Callable[[str], None]
) -> str:
    """Run the benchmark; returns the report (a Markdown table and the machine)."""
    if db_connection.vendor != "postgresql":
        say("warning: not on PostgreSQL (set DATABASE_URL); the targets are for PostgreSQL")
    prefix = f"b{secrets.token_hex(3)}"
    library = spotify_library(
        saved_tracks=tracks,
        saved_albums=albums,
        followed_artists=follows,
        top_tracks=top,
        top_artists=top,
        recent_plays=50,
        prefix=prefix,
    )
    user = User.objects.create_user(
        username=f"syncbench-{prefix}", email=f"syncbench-{prefix}@example.org"
    )
    runs: list[SyncRun] = []
    with ProviderStandIn() as standin:
        overrides = {
            **standin.settings(),
            "SPOTIFY_REDIRECT_URI": "http://127.0.0.1/api/v1/connections/spotify/callback",
            "CELERY_TASK_ALWAYS_EAGER": True,
        }
        with override_settings(**overrides):
            standin.spotify = SpotifyLibrary()
            start = _authorize(user=user, provider="spotify")
            back = httpx.get(start.authorization_url, follow_redirects=False, timeout=10)
            params = dict(httpx.URL(back.headers["location"]).params)
            _callback(provider="spotify", params=params)  # connects; its first sync is empty
            say(f"connected {user.username}; {tracks} saved tracks at the stand-in")
            standin.spotify = library
            runs.append(_run("first sync", user))
            say(f"first sync: {runs[-1].seconds:.2f} s")
            runs.append(_run("re-sync, no change", user))
            say(f"re-sync: {runs[-1].seconds:.2f} s")
    edges = TasteEdge.objects.filter(user=user).count()
    user.delete()
    lines = [
        f"sync_bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
        f"{os.cpu_count()} CPUs · load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
        f"· {db_connection.vendor} · stand-in on 127.0.0.1",
        f"library: {tracks} saved tracks, {albums} saved albums, {follows} followed artists, "
        f"top {top} tracks and {top} artists, 50 recent plays -> {edges} edges",
        "",
        "| run | seconds | status | fetched | added | removed | unchanged | outbox rows "
        "| queries |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r.name} | {r.seconds:.2f} | {r.status} | {r.fetched} | {r.added} | "
            f"{r.removed} | {r.unchanged} | {r.outbox_rows} | {r.queries} |"
            for r in runs
        ),
    ]
    return "\n".join(lines)
