"""The Celery tasks (the connections' and the uploads'): found by autodiscovery, named after
their module."""

from __future__ import annotations

import json

from django.conf import settings

from tests.fixtures.processes import run_manage

TASKS = [
    "musicbud.connections.tasks.connection_sync",
    "musicbud.connections.tasks.connections_resync_due",
    "musicbud.imports.tasks.import_run",
    "musicbud.imports.tasks.imports_lost_fail",
]
# Every slice's tasks, as the worker finds them (the accounts slice's too).
ALL_TASKS = sorted(
    [
        *TASKS,
        "musicbud.accounts.tasks.export_build",
        "musicbud.accounts.tasks.exports_expire",
        "musicbud.accounts.tasks.mail_send",
    ]
)

# What a worker does at start-up, in a process where nothing imported the tasks module yet.
FIND_TASKS = """
import json
from config.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(name for name in app.tasks if name.startswith("musicbud"))))
"""


def test_a_worker_finds_the_tasks_by_autodiscovery_under_their_module_names() -> None:
    result = run_manage("shell", "--no-imports", "-c", FIND_TASKS, ENVIRONMENT="test")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ALL_TASKS


def test_the_beat_schedule_names_a_task_that_exists() -> None:
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert scheduled == [TASKS[1], TASKS[3], "musicbud.accounts.tasks.exports_expire"]
