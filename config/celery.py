"""The Celery application, configured from the ``CELERY_*`` settings: tasks on Redis
(``TASK_BROKER_URL``; eager without one), the periodic re-sync on beat. Each package listed
in ``TASK_PACKAGES`` keeps its tasks in its own ``tasks`` module, found by autodiscovery."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("musicbud")
app.config_from_object("django.conf:settings", namespace="CELERY")

# The packages whose ``tasks`` module holds Celery tasks (each named after its module).
TASK_PACKAGES = ["musicbud.connections", "musicbud.imports", "musicbud.accounts"]
app.autodiscover_tasks(TASK_PACKAGES)
