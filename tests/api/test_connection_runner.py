"""The real task runner: a Celery worker process on Redis runs the syncs the API queues."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from musicbud.connections.models import ProviderConnection, SyncJob, SyncStatus
from musicbud.connections.providers.spotify import SpotifyProvider
from musicbud.connections.tasks import SYNC_LOST, SYNC_NOT_QUEUED
from musicbud.models import TasteEdge, User
from tests.conftest import require_service
from tests.fixtures.http import assert_envelope
from tests.fixtures.processes import ROOT, database_url, subprocess_env
from tests.fixtures.providers import browser_at_provider
from tests.fixtures.taste import taste_edges
from tooling.ports import free_port
from tooling.standins import ProviderStandIn
from tooling.standins.server import Hold
from tooling.standins.spotify import spotify_library

pytestmark = pytest.mark.django_db(transaction=True)

# The worker's periodic re-sync interval (beat's schedule is the same): short enough that
# beat queues a re-sync within the test.
RESYNC_INTERVAL_SECONDS = 2
# Every wait on the worker is bounded by this.
WAIT_SECONDS = 15.0
T = TypeVar("T")


class Worker:
    """``celery -A config worker`` in a session of its own, its output in ``log_path``."""

    def __init__(self, *, env: dict[str, str], log_path: Path, schedule_path: Path) -> None:
        self.name = f"runner-test-{uuid.uuid4().hex[:8]}@%h"
        self.command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--hostname",
            self.name,
            "--without-mingle",
            "--without-gossip",
            # No task may outlive the test.
            "--time-limit",
            str(int(WAIT_SECONDS)),
            "--beat",
            "--schedule",
            str(schedule_path),
        ]
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:  # the worker writes through its own copy
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool child and beat share its process group
            )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """SIGKILL for the whole group (worker, pool child, beat), always reaped. No test here
        is about shutting down: a warm one would cost seconds per test, and whatever a killed
        worker left in the broker goes with the flush of the test's Redis database."""
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records (the banner and warnings before logging starts are not)."""
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def received(self, task: str) -> int:
        """How many messages of ``task`` the worker took from the broker."""
        return sum(
            1
            for record in self.records()
            if record["logger"] == "celery.worker.strategy" and record["data"]["name"] == task
        )


def wait_for(worker: Worker, what: str, check: Callable[[], T | None]) -> T:
    """Poll ``check`` until it answers something truthy, at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = check()
        if value:
            return value
        code = worker.exited()
        if code is not None:
            pytest.fail(f"the worker exited ({code}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        time.sleep(0.05)


def logged(worker: Worker, message: str) -> list[dict[str, Any]]:
    """The worker's log records with that message, so far."""
    return [record for record in worker.records() if record["message"] == message]


@pytest.fixture
def broker_url() -> str:
    """The test's Redis database (REDIS_URL): the broker of this process and the worker.

    The cache shares it and is flushed around every test, which also drops any message an
    earlier run left behind.
    """
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "the worker needs a database it can share with the test")
    url: str | None = settings.REDIS_URL
    if not url:
        require_service("Redis", "REDIS_URL is not set (the worker's broker)")
        raise AssertionError("not reached")
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as probe:
            probe.ping()
    except (redis.RedisError, OSError) as exc:
        require_service("Redis", f"no answer at {url} ({exc})")
    return url


def _pools_drop() -> None:
    """Close the app's broker connections (made for the broker it had until now). kombu keeps
    its pools by broker URL process-wide: they are closed and forgotten, so the next use of any
    broker (the eager runner's included) opens a new one."""
    kombu.pools.reset()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextlib.contextmanager
def sending_to(url: str) -> Iterator[None]:
    """This process's Celery app sends tasks to the broker at ``url`` instead of running them
    eagerly. Celery reads the settings once, so its configuration is switched (and its
    connection pools dropped) here, and put back afterwards."""
    saved = {name: celery_app.conf[name] for name in ("broker_url", "task_always_eager")}
    _pools_drop()
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    try:
        yield
    finally:
        _pools_drop()
        celery_app.conf.update(saved)


@pytest.fixture
def queued_on_broker(broker_url: str) -> Iterator[str]:
    with sending_to(broker_url):
        celery_app.control.purge()
        yield broker_url


@pytest.fixture
def worker(queued_on_broker: str, standin: ProviderStandIn, tmp_path: Path) -> Iterator[Worker]:
    """A worker (not started yet) configured like production: through its environment."""
    env = subprocess_env(
        ENVIRONMENT="test",
        DATABASE_URL=database_url(),
        REDIS_URL=queued_on_broker,
        TASK_BROKER_URL=queued_on_broker,
        PROVIDER_TOKEN_KEYS=",".join(settings.PROVIDER_TOKEN_KEYS),
        SPOTIFY_REDIRECT_URI=str(SpotifyProvider().config.REDIRECT_URI),
        PROVIDER_TIMEOUT_SECONDS="5",
        PROVIDER_RETRY_BASE_SECONDS="0.01",
        CONNECTION_RESYNC_INTERVAL_SECONDS=str(RESYNC_INTERVAL_SECONDS),
        **standin.environment(),
    )
    running = Worker(
        env=env, log_path=tmp_path / "worker.log", schedule_path=tmp_path / "beat-schedule"
    )
    try:
        yield running
    finally:
        for hold in standin.holds:  # a failed test may leave the worker's call held
            hold.release()
        running.stop()
        # Shown with the test's report when it fails.
        print(f"--- celery worker log ({running.log_path}) ---\n{running.log()}")  # noqa: T201


@pytest.fixture
def small_library(standin: ProviderStandIn) -> ProviderStandIn:
    standin.spotify.library = spotify_library(
        saved_tracks=2,
        followed_artists=1,
        top_tracks=1,
        top_artists=2,
        recent_plays=3,
        tracks_per_album=2,
        albums_per_artist=1,
    )
    # Track 1 played twice, Track 0 once.
    plays = standin.spotify.library.recently_played
    plays[2] = {**plays[2], "track": plays[1]["track"]}
    return standin


def _url(name: str) -> str:
    return reverse(f"api-v1:{name}", args=["spotify"])


def _connect(client: Client) -> dict[str, Any]:
    """Authorize, the browser at the stand-in, the callback (which queues the first sync):
    the callback's JSON answer."""
    started = client.post(_url("connection-authorize"))
    assert started.status_code == HTTPStatus.OK, started.content
    back = browser_at_provider(started.json()["authorization_url"])
    callback = client.get(f"{back.path}?{back.query}", headers={"Accept": "application/json"})
    assert callback.status_code == HTTPStatus.OK, callback.content
    body: dict[str, Any] = callback.json()
    assert body["connection"]["status"] == "connected"
    return body


def _queued_messages() -> int:
    """Messages waiting in the broker's queue (not those a worker holds)."""
    with celery_app.connection_for_write() as broker:
        queue = celery_app.conf.task_default_queue
        # Redis drops an empty queue's list: declaring (as the worker does) answers 0 then.
        declared = broker.default_channel.queue_declare(queue=queue)
        return int(declared.message_count)


def _last_sync(client: Client) -> dict[str, Any]:
    response = client.get(_url("connection"))
    assert response.status_code == HTTPStatus.OK, response.content
    sync: dict[str, Any] = response.json()["last_sync"]
    return sync


def _sync_finished(job_id: int) -> bool:
    """Polled in the database, not the API: a slow worker would take the poll over the API's
    rate limit."""
    return SyncJob.objects.filter(
        pk=job_id, status__in=(SyncStatus.SUCCEEDED, SyncStatus.FAILED)
    ).exists()


EXPECTED_EDGES = {
    ("like", "track", "Track 0", None, None, "spotify"),
    ("like", "track", "Track 1", None, None, "spotify"),
    ("like", "artist", "Artist 0", None, None, "spotify"),
    ("top", "track", "Track 0", 1, None, "spotify"),
    ("top", "artist", "Artist 0", 1, None, "spotify"),
    ("top", "artist", "Artist 1", 2, None, "spotify"),
    # Artist 0 (rank 1 of 2): indie rock, shoegaze (2 each); Artist 1: shoegaze, synthpop (1)
    ("top", "genre", "shoegaze", 1, None, "spotify"),
    ("top", "genre", "indie rock", 2, None, "spotify"),
    ("top", "genre", "synthpop", 3, None, "spotify"),
    ("played", "track", "Track 0", None, 1, "spotify"),
    ("played", "track", "Track 1", None, 2, "spotify"),
}


def test_the_worker_runs_each_sync_once_and_beat_resyncs(
    api_client: Client, small_library: ProviderStandIn, user: User, worker: Worker
) -> None:
    """Where the rest of the suite runs tasks eagerly, here a worker started as production
    starts it (``celery -A config worker``: prefork with one child, beat embedded), configured
    through its environment only, shares the test's PostgreSQL database (the test commits)
    and syncs from the stand-in. Through HTTP: the callback and a sync request only queue the
    job; the worker runs it to ``succeeded``; a request while it runs answers the same job;
    beat's periodic re-sync reaches the worker and queues the next one."""
    standin = small_library
    callback = _connect(api_client)

    # Queued, not run in the request: one message on the broker, nothing fetched or written.
    job = SyncJob.objects.get()
    assert callback["connection"]["last_sync"] == {
        "status": "queued",
        "phase": "waiting",
        "started_at": None,
        "finished_at": None,
        "progress": 0,
        "total": None,
        "counts": {},
        "error": None,
    }
    assert _queued_messages() == 1
    assert standin.paths("/spotify/v1/") == ["/spotify/v1/me"]  # the account, read at connect
    assert TasteEdge.objects.count() == 0
    # Asked again while it is queued: the same job, no second message.
    again = api_client.post(_url("connection-sync"))
    assert again.status_code == HTTPStatus.ACCEPTED, again.content
    assert again.json()["last_sync"]["status"] == "queued"
    assert list(SyncJob.objects.values_list("pk", flat=True)) == [job.pk]
    assert _queued_messages() == 1

    # The worker takes it; its first call to Spotify is held, so the job is running.
    saved_tracks: Hold = standin.hold("/me/tracks")
    worker.start()
    wait_for(worker, "the worker's first call to Spotify", lambda: saved_tracks.arrived.is_set())
    running = _last_sync(api_client)
    assert (running["status"], running["phase"]) == ("running", "fetching")
    assert running["started_at"] is not None
    assert running["finished_at"] is None
    # Asked while it runs: the running job answers, none is opened or queued.
    during = api_client.post(_url("connection-sync"))
    assert during.status_code == HTTPStatus.ACCEPTED, during.content
    assert during.json()["last_sync"]["status"] == "running"
    assert during.json()["last_sync"]["started_at"] == running["started_at"]
    assert list(SyncJob.objects.values_list("pk", flat=True)) == [job.pk]
    assert _queued_messages() == 0

    saved_tracks.release()
    wait_for(worker, "the sync finished", lambda: _sync_finished(job.pk))
    done = _last_sync(api_client)
    assert done["error"] is None
    assert done["status"] == "succeeded"
    assert done["started_at"] == running["started_at"]
    # 2 saved tracks + 1 follow + 1 + 2 top + 3 plays
    assert (done["phase"], done["progress"], done["total"]) == ("done", 9, 9)
    assert done["counts"] == {
        "like": {
            "track": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
            "artist": {"added": 1, "updated": 0, "removed": 0, "unchanged": 0},
        },
        "top": {
            "track": {"added": 1, "updated": 0, "removed": 0, "unchanged": 0},
            "artist": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0},
            "genre": {"added": 3, "updated": 0, "removed": 0, "unchanged": 0},
        },
        "played": {"track": {"added": 2, "updated": 0, "removed": 0, "unchanged": 0}},
    }
    assert taste_edges(user) == EXPECTED_EDGES
    assert worker.received("musicbud.connections.tasks.connection_sync") == 1
    # The worker logs through the project's logging (JSON, redacted), job and counts included.
    # The job's row commits before the worker writes its log line: wait for the line.
    succeeded = wait_for(worker, "the sync's log line", lambda: logged(worker, "sync succeeded"))
    assert [(r["job_id"], r["provider"], r["added"], r["unchanged"]) for r in succeeded] == [
        (job.pk, "spotify", 11, 0)
    ]

    # Beat's re-sync: once the last sync is older than the interval, the worker queues the
    # next one (a second message it then takes); nothing changed at Spotify, nothing written.
    resynced = wait_for(
        worker,
        "beat's re-sync succeeded",
        lambda: SyncJob.objects.filter(status=SyncStatus.SUCCEEDED).exclude(pk=job.pk).first(),
    )
    assert resynced.connection_id == ProviderConnection.objects.get().pk
    assert resynced.error == ""
    assert resynced.counts == {
        relation: {
            kind: {"added": 0, "updated": 0, "removed": 0, "unchanged": counts["added"]}
            for kind, counts in kinds.items()
        }
        for relation, kinds in done["counts"].items()
    }
    assert taste_edges(user) == EXPECTED_EDGES
    assert worker.received("musicbud.connections.tasks.connections_resync_due") >= 1
    assert worker.received("musicbud.connections.tasks.connection_sync") >= 2
    # No token the stand-in issued reached the worker's log.
    log = worker.log()
    assert all(secret not in log for secret in standin.issued_secrets())


def test_a_job_the_broker_does_not_take_fails_and_the_next_request_starts_over(
    api_client: Client, small_library: ProviderStandIn, user: User
) -> None:
    with sending_to(f"redis://127.0.0.1:{free_port()}/0"):
        callback = _connect(api_client)
        # Connected all the same; the first sync says why it did not start.
        assert callback["connection"]["last_sync"]["status"] == "failed"
        assert callback["connection"]["last_sync"]["error"] == SYNC_NOT_QUEUED

        refused = api_client.post(_url("connection-sync"))

        assert_envelope(
            refused, HTTPStatus.SERVICE_UNAVAILABLE, "task_runner_unavailable", SYNC_NOT_QUEUED
        )
        assert refused["Retry-After"] == "5"
        assert list(SyncJob.objects.order_by("pk").values_list("status", "started_at")) == [
            (SyncStatus.FAILED, None),
            (SyncStatus.FAILED, None),
        ]
        assert small_library.paths("/spotify/v1/") == ["/spotify/v1/me"]
    # The runner back (the embedded one, in the request here): the connection is not blocked
    # by the failed jobs; the answer is the job as queued, which then runs.
    response = api_client.post(_url("connection-sync"))

    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    assert response.json()["last_sync"]["status"] == "queued"
    assert _last_sync(api_client)["status"] == "succeeded"
    assert SyncJob.objects.count() == 3
    assert taste_edges(user) == EXPECTED_EDGES


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def _process_calling(port: int, among: list[int]) -> int:
    """The process among ``among`` with a TCP connection open to ``port`` on loopback: the
    pool child whose call the stand-in holds."""
    remote = f"0100007F:{port:04X}"
    table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    inodes = {row.split()[9] for row in table if row.split()[2] == remote}
    for pid in among:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = str(fd.readlink())
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return pid
    pytest.fail(f"no process among {among} calls port {port}")


def _standin_port(standin: ProviderStandIn) -> int:
    return int(standin.base_url.rsplit(":", 1)[1])


def _sync_held_at_the_worker(
    api_client: Client, standin: ProviderStandIn, worker: Worker
) -> tuple[SyncJob, Hold]:
    """Connected (the first sync queued), the worker started and its first call to Spotify
    held: the job, running, and the hold."""
    _connect(api_client)
    job = SyncJob.objects.get()
    saved_tracks = standin.hold("/me/tracks")
    worker.start()
    wait_for(worker, "the worker's first call to Spotify", lambda: saved_tracks.arrived.is_set())
    return job, saved_tracks


def test_a_sync_whose_worker_process_dies_is_redelivered_and_restarted(
    api_client: Client, small_library: ProviderStandIn, user: User, worker: Worker
) -> None:
    """SIGKILL of the pool process running the sync: the message goes back to the queue
    (acks late, rejected on worker loss), the worker's next process takes it and runs the same
    job again from the fetch, to ``succeeded`` with exactly the expected edges."""
    standin = small_library
    job, saved_tracks = _sync_held_at_the_worker(api_client, standin, worker)
    running = SyncJob.objects.get()
    assert running.status == SyncStatus.RUNNING
    assert running.heartbeat_at is not None
    assert worker.process is not None

    os.kill(_process_calling(_standin_port(standin), _children(worker.process.pid)), signal.SIGKILL)
    saved_tracks.release()

    # Polled in the database: the API's budget would refuse polling this fast.
    restarted = wait_for(
        worker,
        "the restarted sync finished",
        lambda: SyncJob.objects.filter(
            pk=job.pk, status__in=(SyncStatus.SUCCEEDED, SyncStatus.FAILED)
        ).first(),
    )
    assert (restarted.status, restarted.error) == (SyncStatus.SUCCEEDED, "")
    assert restarted.started_at is not None
    assert running.started_at is not None
    assert restarted.started_at > running.started_at
    assert restarted.counts["like"]["track"] == {
        "added": 2,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
    }
    assert taste_edges(user) == EXPECTED_EDGES
    assert standin.paths("/spotify/v1/me/tracks").count("/spotify/v1/me/tracks") == 2
    assert worker.received("musicbud.connections.tasks.connection_sync") >= 2
    assert worker.exited() is None


def test_a_sync_whose_whole_worker_dies_is_failed_and_queued_again_by_the_scheduler(
    api_client: Client, small_library: ProviderStandIn, user: User, worker: Worker
) -> None:
    """SIGKILL of the whole worker mid-sync: its message stays unacknowledged at the broker,
    the job ``running`` with its heartbeat frozen. The next worker's scheduler fails the job
    once its heartbeat is older than ``JOB_HEARTBEAT_STALE_SECONDS`` and queues a fresh one,
    which syncs exactly what the lost one would have."""
    standin = small_library
    job, saved_tracks = _sync_held_at_the_worker(api_client, standin, worker)
    assert worker.process is not None
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(10)
    saved_tracks.release()
    assert SyncJob.objects.get().status == SyncStatus.RUNNING

    # A new worker, with a short heartbeat limit (its beat runs every two seconds).
    worker.env = {**worker.env, "JOB_HEARTBEAT_STALE_SECONDS": "2"}
    worker.start()

    fresh = wait_for(
        worker,
        "a fresh sync succeeded",
        lambda: SyncJob.objects.filter(status=SyncStatus.SUCCEEDED).first(),
    )
    lost = SyncJob.objects.get(pk=job.pk)
    assert fresh.pk != job.pk
    assert (lost.status, lost.error) == (SyncStatus.FAILED, SYNC_LOST)
    assert fresh.counts["like"]["track"] == {"added": 2, "updated": 0, "removed": 0, "unchanged": 0}
    assert taste_edges(user) == EXPECTED_EDGES
    lost_lines = wait_for(worker, "the lost sync's log line", lambda: logged(worker, "sync lost"))
    assert [r["job_id"] for r in lost_lines] == [job.pk]
