"""The connections' background jobs: a sync job row (one queued or running per connection)
handed to the task runner after commit, the Celery task that runs it, and the periodic
re-sync (scheduled by beat, see ``CELERY_BEAT_SCHEDULE``), which first recovers lost jobs."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

from musicbud.connections.models import (
    ACTIVE_SYNC_STATUSES,
    ConnectionStatus,
    ProviderConnection,
    SyncJob,
    SyncStatus,
)
from musicbud.connections.sync import connection_sync_failed, connection_sync_run
from musicbud.job_liveness import jobs_dead_fail
from musicbud.task_runner import task_send

# The project's Celery app (settings.TASK_APP), which the shared tasks below queue on: a web
# worker loads it here, where a job is first queued, not at start-up.
import_string(settings.TASK_APP)

logger = logging.getLogger(__name__)
# The error of a job the task runner's broker did not take.
SYNC_NOT_QUEUED = "The sync could not be queued: the task runner is unavailable. Try again later."
SYNC_LOST = "The sync was lost: its worker stopped before finishing it."


def sync_jobs_dead_fail(jobs: QuerySet[SyncJob]) -> list[SyncJob]:
    """Fail the lost jobs among ``jobs`` (running with no heartbeat for
    ``JOB_HEARTBEAT_STALE_SECONDS``, or queued for ``CONNECTION_SYNC_STALE_SECONDS``), each
    counted as a failed sync of its connection; returns them."""
    dead = jobs_dead_fail(
        jobs, queued_stale_seconds=settings.CONNECTION_SYNC_STALE_SECONDS, error=SYNC_LOST
    )
    for job in dead:
        logger.warning("sync lost", extra={"job_id": job.pk, "status": job.status})
        connection_sync_failed(connection_id=job.connection_id)
    return dead


def sync_job_open(*, connection: ProviderConnection) -> SyncJob:
    """The connection's queued or running job, or a new one queued after commit.

    A lost job (its worker died: no heartbeat) is failed first and a new one opened, so a
    dead job is never the answer and cannot block the connection.
    """
    sync_jobs_dead_fail(SyncJob.objects.filter(connection=connection))
    active = SyncJob.objects.filter(connection=connection, status__in=ACTIVE_SYNC_STATUSES).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            job = SyncJob.objects.create(connection=connection)
    except IntegrityError:
        # Another request opened one between our read and insert: answer that one.
        return SyncJob.objects.get(connection=connection, status__in=ACTIVE_SYNC_STATUSES)
    job_id = job.pk
    transaction.on_commit(lambda: _job_send(job_id))
    return job


def _job_send(job_id: int) -> None:
    """Hand the committed job to the task runner. A broker that cannot take it fails the job
    at once, saying so, rather than leaving it queued (and the connection unable to sync)
    until it is taken as lost."""
    try:
        task_send(connection_sync, job_id)
    except OperationalError:
        logger.exception("sync not queued", extra={"job_id": job_id})
        SyncJob.objects.filter(pk=job_id, status=SyncStatus.QUEUED).update(
            status=SyncStatus.FAILED, finished_at=timezone.now(), error=SYNC_NOT_QUEUED
        )


def connections_resync_queue() -> int:
    """Fail the lost jobs first (so their connections are free again), then queue a sync of
    every connected connection whose last sync is older than the re-sync interval (or that
    never synced), or whose job was lost, unless its failures say to wait
    (``sync_retry_at``); returns how many jobs were opened."""
    # Active jobs only: the partial index of the one-active-job constraint serves this.
    active = SyncJob.objects.filter(status__in=ACTIVE_SYNC_STATUSES)
    lost = {job.connection_id for job in sync_jobs_dead_fail(active)}
    now = timezone.now()  # after the failures just counted, whose first retry is now
    due_before = now - timedelta(seconds=settings.CONNECTION_RESYNC_INTERVAL_SECONDS)
    due = (
        ProviderConnection.objects.filter(status=ConnectionStatus.CONNECTED)
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=due_before) | Q(pk__in=lost))
        .filter(Q(sync_retry_at__isnull=True) | Q(sync_retry_at__lte=now))
        .exclude(sync_jobs__status__in=ACTIVE_SYNC_STATUSES)
        .order_by("pk")
    )
    opened = 0
    for connection in due:
        with transaction.atomic():
            job = sync_job_open(connection=connection)
        opened += int(job.status == SyncStatus.QUEUED)
    return opened


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def connection_sync(job_id: int) -> None:
    connection_sync_run(job_id=job_id)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def connections_resync_due() -> int:
    return connections_resync_queue()
