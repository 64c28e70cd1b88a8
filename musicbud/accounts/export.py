"""Data export: a job that writes every part of the person's data (``personal_data``) as JSON
files into a zip kept through Django's storage API (the ``exports`` storage), downloadable by
the person until it expires, then deleted."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import IO
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from musicbud.accounts.models import ACTIVE_EXPORT_STATUSES, ExportJob, ExportStatus
from musicbud.accounts.personal_data import personal_data_parts
from musicbud.errors import MusicbudError, NotFound
from musicbud.job_liveness import jobs_dead_fail
from musicbud.models import User

logger = logging.getLogger(__name__)

README_HEAD = """Your musicbud data, exported {created} (UTC) for {username}.

Each file is JSON (UTF-8). Times are ISO 8601 in UTC. Nothing secret is included: no password
and no token of a connected music service.

"""


class ExportNotReady(MusicbudError):
    code = "export_not_ready"
    status_code = HTTPStatus.CONFLICT


class ExportGone(MusicbudError):
    code = "export_expired"
    status_code = HTTPStatus.GONE


def exports_storage() -> Storage:
    return storages["exports"]


@dataclass(frozen=True, slots=True)
class ExportView:
    id: UUID
    status: str
    progress: int
    created_at: datetime
    expires_at: datetime | None
    error: str


def _view(job: ExportJob) -> ExportView:
    return ExportView(
        id=job.id,
        status=job.status,
        progress=job.progress,
        created_at=job.created_at,
        expires_at=job.expires_at,
        error=job.error,
    )


async def export_request(*, user_id: int) -> ExportView:
    """Start an export (or answer the one already queued or running)."""
    return await sync_to_async(_request, thread_sensitive=True)(user_id=user_id)


def _request(*, user_id: int) -> ExportView:
    from musicbud.accounts.tasks import export_build

    # A job whose worker died (no heartbeat) must not block the person's next export.
    exports_dead_fail(ExportJob.objects.filter(user_id=user_id))
    active = ExportJob.objects.filter(user_id=user_id, status__in=ACTIVE_EXPORT_STATUSES).first()
    if active is not None:
        return _view(active)
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(user_id=user_id)
            job_id = str(job.pk)
            transaction.on_commit(lambda: export_build.delay(job_id), robust=True)
    except IntegrityError:  # a concurrent request opened one
        job = ExportJob.objects.get(user_id=user_id, status__in=ACTIVE_EXPORT_STATUSES)
    job.refresh_from_db()
    return _view(job)


async def export_get(*, user_id: int, export_id: UUID) -> ExportView:
    job = await ExportJob.objects.filter(pk=export_id, user_id=user_id).afirst()
    if job is None:
        raise NotFound("No such export", code="export_not_found")
    return _view(job)


def _file_name(job: ExportJob) -> str:
    return f"{job.pk}.zip"


def export_run(*, export_id: str) -> None:
    """Build the zip (sync, on the task runner). A redelivered message rebuilds it."""
    job = ExportJob.objects.filter(pk=export_id, status__in=ACTIVE_EXPORT_STATUSES).first()
    if job is None:
        return
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, heartbeat_at=now, progress=0
    )
    user = User.objects.get(pk=job.user_id)
    parts = [part for part in personal_data_parts() if part.export is not None]
    buffer = io.BytesIO()
    readme = [README_HEAD.format(created=now.strftime("%Y-%m-%d %H:%M"), username=user.username)]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, part in enumerate(parts, start=1):
            assert part.export is not None  # noqa: S101 - filtered above
            data = part.export(user)
            archive.writestr(
                f"{part.name}.json",
                json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            )
            readme.append(f"{part.name}.json: {part.description}\n")
            ExportJob.objects.filter(pk=job.pk).update(
                progress=index * 100 // (len(parts) + 1), heartbeat_at=timezone.now()
            )
        archive.writestr("README.txt", "".join(readme))
    storage = exports_storage()
    name = _file_name(job)
    if storage.exists(name):
        storage.delete(name)
    stored = storage.save(name, ContentFile(buffer.getvalue()))
    finished = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.READY,
        progress=100,
        file_name=stored,
        finished_at=finished,
        heartbeat_at=finished,
        expires_at=finished + timedelta(seconds=settings.EXPORT_TTL_SECONDS),
    )
    logger.info("export ready", extra={"export_id": export_id, "user_id": user.pk})


async def export_open(*, user_id: int, export_id: UUID) -> tuple[IO[bytes], str]:
    """The ready zip of the user's export, opened, and its download name; 404 for another's
    or an unknown export, 409 while it is not ready, 410 once it expired."""
    return await sync_to_async(_open, thread_sensitive=True)(user_id=user_id, export_id=export_id)


# The size of each block ``export_blocks`` reads (FileResponse's).
EXPORT_BLOCK_BYTES = 4096


async def export_blocks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    """An opened export's bytes (``export_open``) in blocks, each read off the loop; the file
    closed at the end (the last block read, or the reader gone)."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while block := await read(EXPORT_BLOCK_BYTES):
            yield block
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


def _open(*, user_id: int, export_id: UUID) -> tuple[IO[bytes], str]:
    job = ExportJob.objects.filter(pk=export_id, user_id=user_id).first()
    if job is None:
        raise NotFound("No such export", code="export_not_found")
    if job.status == ExportStatus.EXPIRED or (
        job.expires_at is not None and job.expires_at <= timezone.now()
    ):
        raise ExportGone("The export has expired; ask for a new one")
    if job.status != ExportStatus.READY:
        raise ExportNotReady("The export is not ready yet")
    stamp = job.created_at.strftime("%Y%m%d")
    return exports_storage().open(job.file_name, "rb"), f"musicbud-export-{stamp}.zip"


def exports_dead_fail(jobs: QuerySet[ExportJob]) -> list[ExportJob]:
    """Fail the lost jobs among ``jobs`` (running without a beat, or queued too long)."""
    dead = jobs_dead_fail(jobs, queued_stale_seconds=settings.CONNECTION_SYNC_STALE_SECONDS)
    for job in dead:
        logger.warning("export lost", extra={"export_id": str(job.pk), "status": job.status})
    return dead


def export_files_delete(jobs: QuerySet[ExportJob]) -> int:
    """Delete the zips of ``jobs`` from the storage (sync); returns how many were there."""
    storage = exports_storage()
    deleted = 0
    for name in jobs.exclude(file_name="").values_list("file_name", flat=True):
        if storage.exists(name):
            storage.delete(name)
            deleted += 1
    return deleted


def exports_expired_delete() -> int:
    """Delete the expired zips and mark their jobs expired, and fail lost jobs (on beat);
    returns how many zips went."""
    exports_dead_fail(ExportJob.objects.all())
    expired = ExportJob.objects.filter(status=ExportStatus.READY, expires_at__lte=timezone.now())
    count = export_files_delete(expired)
    expired.update(status=ExportStatus.EXPIRED, file_name="")
    return count
