"""Lost jobs: a running sync whose heartbeat stopped (its worker died) is failed and queued
again by the periodic re-sync, and a sync request gets a fresh job rather than the dead one;
the backoff of a connection whose syncs keep failing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from musicbud.connections.models import ProviderConnection, SyncJob, SyncStatus
from musicbud.connections.sync import sync_retry_delay
from musicbud.connections.tasks import SYNC_LOST, connections_resync_queue, sync_job_open
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]
STALE = 300


@pytest.fixture(autouse=True)
def _stale_after(settings: Any) -> None:
    settings.JOB_HEARTBEAT_STALE_SECONDS = STALE
    settings.CONNECTION_SYNC_STALE_SECONDS = 3600
    settings.CONNECTION_RESYNC_INTERVAL_SECONDS = 24 * 3600


@pytest.fixture
def connection() -> ProviderConnection:
    """Synced a minute ago: not due for the periodic re-sync."""
    now = timezone.now()
    return ProviderConnection.objects.create(
        user=UserFactory.create(),
        provider="spotify",
        account_id="acct",
        connected_at=now - timedelta(days=1),
        last_synced_at=now - timedelta(minutes=1),
    )


def _running(connection: ProviderConnection, *, silent_for: timedelta) -> SyncJob:
    started = timezone.now() - timedelta(minutes=10)
    job = SyncJob.objects.create(
        connection=connection, status=SyncStatus.RUNNING, started_at=started, progress=120
    )
    SyncJob.objects.filter(pk=job.pk).update(
        created_at=started, heartbeat_at=timezone.now() - silent_for
    )
    return job


def test_the_resync_fails_a_silent_running_job_and_queues_a_fresh_one(
    connection: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    dead = _running(connection, silent_for=timedelta(seconds=STALE + 1))

    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert connections_resync_queue() == 1

    dead.refresh_from_db()
    assert (dead.status, dead.error, dead.progress) == (SyncStatus.FAILED, SYNC_LOST, 120)
    assert dead.finished_at is not None
    fresh = SyncJob.objects.exclude(pk=dead.pk).get()
    assert (fresh.connection_id, fresh.status) == (connection.pk, SyncStatus.QUEUED)
    assert len(sent) == 1  # its message, after commit
    connection.refresh_from_db()
    assert connection.sync_failures == 1
    # The next run finds nothing more to do.
    with django_capture_on_commit_callbacks(execute=False) as sent_again:
        assert connections_resync_queue() == 0
    assert sent_again == []


def test_a_running_job_that_still_beats_is_left_alone(
    connection: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    alive = _running(connection, silent_for=timedelta(seconds=STALE - 30))

    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert connections_resync_queue() == 0

    alive.refresh_from_db()
    assert (alive.status, alive.finished_at, alive.error) == (SyncStatus.RUNNING, None, "")
    assert sent == []
    assert sync_job_open(connection=connection).pk == alive.pk


def test_a_sync_request_for_a_connection_whose_job_died_gets_a_fresh_job(
    connection: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    """Well within the hour a queued job may wait, but silent for longer than a live job is."""
    dead = _running(connection, silent_for=timedelta(seconds=STALE + 1))

    with django_capture_on_commit_callbacks(execute=False) as sent:
        job = sync_job_open(connection=connection)

    assert job.pk != dead.pk
    assert job.status == SyncStatus.QUEUED
    assert len(sent) == 1
    dead.refresh_from_db()
    assert (dead.status, dead.error) == (SyncStatus.FAILED, SYNC_LOST)


def test_a_queued_job_is_lost_only_past_the_queue_limit(
    connection: ProviderConnection, django_capture_on_commit_callbacks: Capture
) -> None:
    waiting = SyncJob.objects.create(connection=connection)
    SyncJob.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=30))

    with django_capture_on_commit_callbacks(execute=False):
        assert sync_job_open(connection=connection).pk == waiting.pk
        SyncJob.objects.filter(pk=waiting.pk).update(
            created_at=timezone.now() - timedelta(seconds=3601)
        )
        assert sync_job_open(connection=connection).pk != waiting.pk

    waiting.refresh_from_db()
    assert waiting.status == SyncStatus.FAILED


def test_the_retry_delay_doubles_after_the_second_failure_up_to_its_cap(settings: Any) -> None:
    settings.CONNECTION_SYNC_RETRY_BASE_SECONDS = 300
    settings.CONNECTION_SYNC_RETRY_MAX_SECONDS = 6 * 3600

    delays = [sync_retry_delay(failures).total_seconds() for failures in range(10)]

    assert delays == [0, 0, 300, 600, 1200, 2400, 4800, 9600, 19200, 21600]
    assert sync_retry_delay(10**6).total_seconds() == 21600
