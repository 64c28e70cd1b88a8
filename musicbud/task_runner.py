"""Handing a task to the task runner: Celery's broker when one is set; without one, the
embedded runner. That is one thread of this process running the tasks queued to it in turn,
so the request that queued a job has answered before the job runs (an OAuth callback does not
wait for the whole first sync); with ``TASK_EAGER_IN_BACKGROUND`` false, Celery's eager mode
runs the task inside that request instead."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)
_embedded: ThreadPoolExecutor | None = None
_embedded_lock = threading.Lock()


def task_send(task: Any, *args: Any) -> None:
    """Queue the Celery ``task`` with ``args`` (``task.delay(*args)``, or the embedded
    runner). A broker that cannot take it raises kombu's ``OperationalError``."""
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.TASK_EAGER_IN_BACKGROUND:
        _embedded_runner().submit(_embedded_run, task, args)
        return
    task.delay(*args)


def _embedded_runner() -> ThreadPoolExecutor:
    global _embedded  # one runner per process, started on first use
    with _embedded_lock:
        if _embedded is None:
            _embedded = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-tasks")
        return _embedded


def _embedded_run(task: Any, args: tuple[Any, ...]) -> None:
    try:
        # Celery's eager path (the task's own error handling, no broker): as .delay would.
        task.apply(args=args)
    except Exception:
        logger.exception("embedded task failed", extra={"task": task.name})
    finally:
        # The runner's thread lives on: hand its connections back between tasks.
        connections.close_all()
