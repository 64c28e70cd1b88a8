"""The real task runner takes an upload: a Celery worker process on Redis runs the import job
the API queued, reading the upload from the storage the two share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from musicbud.imports.models import ImportJob
from musicbud.models import User
from tests.api.test_connection_runner import (  # noqa: F401 - fixtures used by name
    Worker,
    broker_url,
    queued_on_broker,
    wait_for,
)
from tests.api.test_imports import extended_export, stored_files
from tests.fixtures.processes import database_url, subprocess_env
from tests.fixtures.taste import taste_edges

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_storage(settings: Any, tmp_path: Path) -> Path:
    """The uploads' folder, the same for this process and the worker (as a volume both
    machines mount would be)."""
    folder = tmp_path / "imports"
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


@pytest.fixture
def import_worker(
    queued_on_broker: str,  # noqa: F811 - the fixture
    shared_storage: Path,
    tmp_path: Path,
) -> Iterator[Worker]:
    env = subprocess_env(
        ENVIRONMENT="test",
        DATABASE_URL=database_url(),
        REDIS_URL=queued_on_broker,
        TASK_BROKER_URL=queued_on_broker,
        IMPORT_STORAGE_DIR=str(shared_storage),
    )
    running = Worker(
        env=env, log_path=tmp_path / "worker.log", schedule_path=tmp_path / "beat-schedule"
    )
    try:
        yield running
    finally:
        running.stop()
        print(f"--- celery worker log ({running.log_path}) ---\n{running.log()}")  # noqa: T201


def test_the_worker_runs_an_upload_to_succeeded(
    api_client: Client, user: User, import_worker: Worker, shared_storage: Path
) -> None:
    # Given the upload queued while no worker runs: it waits, stored.
    response = api_client.post(
        "/api/v1/me/imports", {"file": SimpleUploadedFile("export.zip", extended_export())}
    )
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert len(stored_files(shared_storage)) == 1

    # When the worker starts, it runs the job to its end.
    import_worker.start()

    # Polled in the database, not the API (whose rate limit a slow worker start would reach);
    # the upload is deleted and forgotten just after the job is marked finished.
    def finished() -> bool:
        job = ImportJob.objects.get(pk=job_id)
        return job.status in {"succeeded", "failed"} and job.stored_name == ""

    wait_for(import_worker, "the import finished", finished)
    done = api_client.get(f"/api/v1/me/imports/{job_id}").json()
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"done": 11, "total": 11}
    assert done["counts"] == {"plays": 6, "likes": 0, "top": 5, "skipped": 3, "unmatched": 0}
    assert ("played", "track", "Song A", None, 2, "spotify_upload") in taste_edges(user)
    assert len(taste_edges(user)) == 9
    assert stored_files(shared_storage) == []
    assert import_worker.received("musicbud.imports.tasks.import_run") == 1
    job = ImportJob.objects.get(pk=job_id)
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.finished_at - job.created_at < timedelta(minutes=1)
