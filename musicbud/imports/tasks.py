"""The uploads' Celery tasks (autodiscovered: ``TASK_PACKAGES``): the job of one upload, and
the periodic failing of lost ones (``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils.module_loading import import_string

from musicbud.imports.services import import_job_run, imports_dead_fail

# The project's Celery app (settings.TASK_APP), which the shared tasks below queue on.
import_string(settings.TASK_APP)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def import_run(job_id: int) -> None:
    import_job_run(job_id=job_id)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def imports_lost_fail() -> int:
    return len(imports_dead_fail())
