"""The measured half of ``manage.py import_bench``, run in a process of its own (spawned, so
its peak memory is the upload's and the job's alone). Imports Django's models only once set up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def _status_mb(field: str) -> float:
    """A memory figure of this process from Linux's /proc (``VmRSS``: now, ``VmHWM``: its
    peak). Not ``getrusage``'s ``ru_maxrss``, which a spawned process inherits from the
    process that forked it (kept across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def upload_run(path: str, user_id: int) -> dict[str, Any]:
    """In a fresh process (spawned: its memory is the job's alone): upload, run in place."""
    import django

    django.setup()
    from django.conf import settings

    from config.celery import app
    from musicbud.imports.models import ImportJob
    from musicbud.imports.services import _import_upload
    from musicbud.models import User

    app.conf.task_always_eager = True
    # As a production worker runs (DEBUG off): no query log building every statement's text.
    settings.DEBUG = False
    user = User.objects.get(pk=user_id)
    before = _status_mb("VmRSS")
    size = Path(path).stat().st_size
    with open(path, "rb") as file:  # noqa: PTH123 - a plain binary handle for the service
        started = time.perf_counter()
        job = _import_upload(user=user, file=file, name="my_spotify_data.zip", size=size)
        seconds = time.perf_counter() - started
    job = ImportJob.objects.get(pk=job.pk)
    return {
        "seconds": seconds,
        "status": job.status,
        "error": job.error,
        "progress": (job.progress_done, job.progress_total),
        "counts": (job.plays, job.top, job.skipped, job.unmatched),
        "created": job.items_created,
        "baseline_mb": before,
        "peak_mb": _status_mb("VmHWM"),
    }
