"""The Celery application: tasks on Redis (``TASK_BROKER_URL``), the periodic re-sync on beat.

Configured from Django's settings (the ``CELERY_*`` names). Without a broker every task runs
eagerly where it is queued, so the embedded default needs no worker. Production runs
``celery -A config worker`` and ``celery -A config beat`` (docker/compose.yaml).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("musicbud")
app.config_from_object("django.conf:settings", namespace="CELERY")
