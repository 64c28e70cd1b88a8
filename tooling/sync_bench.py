"""The provider sync benchmark (``manage.py sync_bench``): a first sync of a large Spotify
library and a re-sync with no change, against the stand-in, through the real services."""

from __future__ import annotations

import multiprocessing
import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import httpx
from django.conf import settings
from django.db import connection as db_connection
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings

from graph.models import ProjectionOutbox
from musicbud.connections.models import ProviderConnection, SyncJob
from musicbud.connections.providers.spotify import SpotifyProvider
from musicbud.connections.services import _authorize, _callback, _sync_request
from musicbud.models import TasteEdge, User
from tooling.standins import ProviderStandIn
from tooling.standins.spotify import spotify_library


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


def _serve(standin: ProviderStandIn, pipe: Connection) -> None:
    """The stand-in's process: serve until the parent says stop. A process of its own, as a
    real provider is elsewhere: its work does not share the benchmark's interpreter."""
    standin.start()
    pipe.send(standin.base_url)
    pipe.recv()
    standin.stop()


def _report(name: str, seconds: float, job: SyncJob, outbox: int, queries: int) -> SyncRun:
    counts = job.counts or {}

    def total(outcome: str) -> int:
        return sum(c[outcome] for kinds in counts.values() for c in kinds.values())

    return SyncRun(
        name=name,
        seconds=seconds,
        status=job.status if not job.error else f"{job.status}: {job.error}",
        fetched=job.progress,
        added=total("added"),
        removed=total("removed"),
        unchanged=total("unchanged"),
        outbox_rows=outbox,
        queries=queries,
    )


def _timed(name: str, user: User, action: Callable[[], object]) -> SyncRun:
    outbox_before = ProjectionOutbox.objects.count()
    with CaptureQueriesContext(db_connection) as queries:
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
    job = SyncJob.objects.filter(connection__user=user).latest("id")
    outbox = ProjectionOutbox.objects.count() - outbox_before
    return _report(name, seconds, job, outbox, len(queries))


def sync_bench_run(
    *,
    tracks: int,
    albums: int,
    follows: int,
    top: int,
    latency_ms: float = 0.0,
    say: Callable[[str], None],
) -> str:
    """Run the benchmark; returns the report (a Markdown table and the machine)."""
    if db_connection.vendor != "postgresql":
        say("warning: not on PostgreSQL (set DATABASE_URL); the targets are for PostgreSQL")
    prefix = f"b{secrets.token_hex(3)}"
    standin = ProviderStandIn(latency_seconds=latency_ms / 1000)
    standin.spotify.library = spotify_library(
        saved_tracks=tracks,
        saved_albums=albums,
        followed_artists=follows,
        top_tracks=top,
        top_artists=top,
        recent_plays=50,
        prefix=prefix,
    )
    connections.close_all()  # nothing of the database goes into the stand-in's process
    pipe, child_pipe = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(standin, child_pipe), daemon=True
    )
    server.start()
    base_url = pipe.recv()
    user = User.objects.create_user(
        username=f"syncbench-{prefix}", email=f"syncbench-{prefix}@example.org"
    )
    providers = standin.provider_settings(settings.PROVIDERS, base_url)
    providers["spotify"] = providers["spotify"].with_values(
        REDIRECT_URI="http://127.0.0.1/api/v1/connections/spotify/callback"
    )
    overrides = {
        "PROVIDERS": providers,
        "CELERY_TASK_ALWAYS_EAGER": True,
        # In place, inside the call timed, not on the embedded runner's thread.
        "TASK_EAGER_IN_BACKGROUND": False,
    }
    runs: list[SyncRun] = []
    try:
        with override_settings(**overrides):
            start = _authorize(user=user, provider="spotify")
            back = httpx.get(start.authorization_url, follow_redirects=False, timeout=10)
            params = dict(httpx.URL(back.headers["location"]).params)
            say(f"{tracks} saved tracks at the stand-in ({base_url}); connecting {user.username}")
            # The callback stores the tokens and queues the first sync, which runs in place.
            runs.append(
                _timed(
                    "first sync",
                    user,
                    lambda: _callback(
                        provider="spotify", params=params, browser_key=start.browser_key
                    ),
                )
            )
            say(f"first sync: {runs[-1].seconds:.2f} s")
            runs.append(
                _timed(
                    "re-sync, no change",
                    user,
                    lambda: _sync_request(user=user, provider="spotify"),
                )
            )
            say(f"re-sync: {runs[-1].seconds:.2f} s")
    finally:
        pipe.send("stop")
        server.join(10)
    edges = TasteEdge.objects.filter(user=user).count()
    assert not ProviderConnection.objects.filter(user=user, status="needs_reauth").exists()  # noqa: S101
    user.delete()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"sync_bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
        f"{os.cpu_count()} CPUs · load average {load} · {db_connection.vendor} · "
        f"stand-in in its own process on 127.0.0.1, {latency_ms:g} ms added to each answer · "
        f"SPOTIFY_PAGE_CONCURRENCY={SpotifyProvider().config.PAGE_CONCURRENCY}",
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
