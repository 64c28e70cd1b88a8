"""Liveness of background job rows (sync jobs; import and export jobs alike): a running job
beats (``heartbeat_at``) while it works, and one whose beat stopped — its worker died — is
failed by the system, so whoever owns the job can queue it again."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

# The statuses a job model shares (its own choices may add more).
QUEUED, RUNNING, FAILED = "queued", "running", "failed"
JOB_LOST = "The job was lost: its worker stopped before finishing it."

J = TypeVar("J", bound=models.Model)


def job_beat(jobs: QuerySet[J], **fields: object) -> int:
    """Mark these jobs alive now, writing ``fields`` (progress, a new status) with the beat."""
    return jobs.update(heartbeat_at=timezone.now(), **fields)


def jobs_dead(jobs: QuerySet[J], *, queued_stale_seconds: int) -> QuerySet[J]:
    """The jobs among ``jobs`` no worker is working on any more: running without a beat for
    ``JOB_HEARTBEAT_STALE_SECONDS``, or queued for ``queued_stale_seconds`` (the broker lost
    the message; a queue that is merely long must not count)."""
    now = timezone.now()
    silent_since = now - timedelta(seconds=settings.JOB_HEARTBEAT_STALE_SECONDS)
    return jobs.filter(
        Q(status=RUNNING, heartbeat_at__lt=silent_since)
        | Q(status=RUNNING, heartbeat_at__isnull=True, created_at__lt=silent_since)
        | Q(status=QUEUED, created_at__lt=now - timedelta(seconds=queued_stale_seconds))
    )


def jobs_dead_fail(
    jobs: QuerySet[J], *, queued_stale_seconds: int, error: str = JOB_LOST
) -> list[J]:
    """Fail the dead jobs among ``jobs``; returns them (as they were) for their owner to queue
    again. Rows another process is failing or finishing at the same time are skipped."""
    with transaction.atomic():
        dead = list(
            jobs_dead(jobs, queued_stale_seconds=queued_stale_seconds)
            .select_for_update(skip_locked=True)
            .order_by("pk")
        )
        if dead:
            jobs.model._default_manager.filter(pk__in=[job.pk for job in dead]).update(
                status=FAILED, finished_at=timezone.now(), error=error[:500]
            )
    return dead
