"""History uploads: take an upload (checked, stored, its job queued after commit), run its job
(read the files as streams, then one set-based write), and fail the jobs whose worker died."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from musicbud.connections.sync import provider_items_write
from musicbud.errors import Conflict, MusicbudError
from musicbud.imports.archive import HEAD_BYTES, Upload, UploadTooLarge, upload_kind
from musicbud.imports.formats import (
    FORMAT_PROVIDER,
    Part,
    part_count,
    part_library,
    part_streams,
    upload_parts_recognise,
)
from musicbud.imports.models import ACTIVE_IMPORT_STATUSES, ImportFormat, ImportJob, ImportStatus
from musicbud.imports.tally import Tally
from musicbud.job_liveness import job_beat, jobs_dead_fail
from musicbud.models import EdgeSource, ItemKind, Relation, User
from musicbud.services.taste_batch import BatchReport

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_CHECK_EVERY = 2048  # entries between two looks at the clock
COPY_CHUNK = 1024 * 1024
IMPORT_LOST = "The import was lost: its worker stopped before finishing it. Upload it again."
IMPORT_NOT_QUEUED = "The import could not be queued: the task runner is unavailable."
IMPORT_FAILED = "The import failed on our side; nothing was changed."


class ImportRunning(Conflict):
    code = "import_running"


class UploadMissing(MusicbudError):
    code = "upload_missing"


def import_storage() -> Storage:
    return storages["imports"]


def upload_edge_source(provider: str) -> str:
    """The source of the edges an upload of ``provider``'s export writes: ``<provider>_upload``,
    never the provider's own (its sync and disconnect remove only that one)."""
    return EdgeSource(f"{provider}_upload").value


# --- taking an upload -----------------------------------------------------------------------


def _stored_delete(name: str) -> None:
    if name:
        import_storage().delete(name)


def _upload_check(file: IO[bytes], *, name: str, size: int) -> tuple[str, str]:
    """(kind, format) of an upload, or the error that refuses it (nothing stored)."""
    if size > settings.IMPORT_MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The upload is {size} bytes, over the limit of {settings.IMPORT_MAX_UPLOAD_BYTES}."
        )
    file.seek(0)
    kind = upload_kind(file.read(HEAD_BYTES))
    with Upload(file=file, name=name, kind=kind).opened() as parts:
        fmt, _ = upload_parts_recognise(parts)
    return kind, fmt


def _import_upload(*, user: User, file: IO[bytes], name: str, size: int) -> ImportJob:
    kind, fmt = _upload_check(file, name=name, size=size)
    imports_dead_fail(ImportJob.objects.filter(user=user, status__in=ACTIVE_IMPORT_STATUSES))
    if ImportJob.objects.filter(user=user, status__in=ACTIVE_IMPORT_STATUSES).exists():
        raise ImportRunning("An import of yours is already running; wait for it to end.")
    file.seek(0)
    stored = import_storage().save(f"{user.public_id}/{uuid.uuid4().hex}.{kind}", File(file))
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                user=user,
                format=fmt,
                stored_name=stored,
                upload_name=name[:255],
                file_size=size,
            )
            job_id = job.pk
            transaction.on_commit(lambda: _job_send(job_id))
    except IntegrityError:
        _stored_delete(stored)
        raise ImportRunning("An import of yours is already running; wait for it to end.") from None
    # With the embedded (eager) runner the job has run by now: answer what it became.
    job.refresh_from_db()
    return job


async def import_upload(*, user: User, file: IO[bytes], name: str, size: int) -> ImportJob:
    """Check an upload (413 over ``IMPORT_MAX_UPLOAD_BYTES``, 415 neither zip nor JSON, 422 a
    zip bomb, an unsafe entry path, JSON that does not parse where it is recognised, no known
    format), store it and queue its job; 409 while another import of the user's runs.
    Everything past the first entries of each file is read by the job."""
    return await sync_to_async(_import_upload)(user=user, file=file, name=name, size=size)


def _job_send(job_id: int) -> None:
    # Celery (the tasks module, which imports this one) is imported where a job is queued,
    # not in every worker.
    from kombu.exceptions import OperationalError

    from musicbud.imports.tasks import import_run

    try:
        import_run.delay(job_id)
    except OperationalError:
        logger.exception("import not queued", extra={"job_id": job_id})
        _fail(job_id, "task_runner_unavailable", IMPORT_NOT_QUEUED)


# --- the job --------------------------------------------------------------------------------


def _fail(job_id: int, code: str, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportStatus.FAILED,
        finished_at=timezone.now(),
        error_code=code[:40],
        error=message[:500],
    )
    _job_file_delete(job_id)
    logger.info("import failed", extra={"job_id": job_id, "error_code": code})


def _job_file_delete(job_id: int) -> None:
    name = ImportJob.objects.filter(pk=job_id).values_list("stored_name", flat=True).first()
    if name:
        _stored_delete(name)
        ImportJob.objects.filter(pk=job_id).update(stored_name="")


@contextmanager
def _local_copy(name: str) -> Iterator[IO[bytes]]:
    """The stored upload as a local, seekable file (the storage may be an object store)."""
    storage = import_storage()
    if not name or not storage.exists(name):
        raise UploadMissing("The uploaded file is no longer stored. Upload it again.")
    with tempfile.TemporaryFile() as local, storage.open(name, "rb") as stored:
        shutil.copyfileobj(stored, local, COPY_CHUNK)
        local.seek(0)
        yield local


class _Progress:
    def __init__(self, job_id: int) -> None:
        self.jobs = ImportJob.objects.filter(pk=job_id)
        self.done = 0
        self.last = time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.done % PROGRESS_CHECK_EVERY == 0 and time.monotonic() - self.last >= (
            PROGRESS_EVERY_SECONDS
        ):
            self.last = time.monotonic()
            job_beat(self.jobs, progress_done=self.done)


def _read(job: ImportJob, file: IO[bytes]) -> tuple[Tally, str, list[Part]]:
    kind = upload_kind(file.read(HEAD_BYTES))
    with Upload(file=file, name=job.upload_name or "upload.json", kind=kind).opened() as parts:
        fmt, found = upload_parts_recognise(parts)
        total = sum(part_count(parts, part) for part in found)
        job_beat(ImportJob.objects.filter(pk=job.pk), progress_total=total, format=fmt)
        tally = Tally(timed=fmt != ImportFormat.YTMUSIC_TAKEOUT)
        progress = _Progress(job.pk)
        for part in found:
            if part.shape == "library":
                for liked in part_library(parts, part):
                    tally.add_liked(liked)
                    progress.step()
            else:
                for stream in part_streams(parts, part):
                    tally.add_stream(stream)
                    progress.step()
    return tally, fmt, found


def _replaced_cells(found: list[Part]) -> list[tuple[str, str]]:
    """What an upload replaces of its own earlier uploads: the top lists when it has a
    history, the likes when it has a library. Plays are only added and updated (an older
    history the new one no longer reaches keeps its plays)."""
    cells: list[tuple[str, str]] = []
    if any(part.shape != "library" for part in found):
        cells += [(Relation.TOP, ItemKind.TRACK), (Relation.TOP, ItemKind.ARTIST)]
    if any(part.shape == "library" for part in found):
        cells += [(Relation.LIKE, kind) for kind in (ItemKind.TRACK, ItemKind.ALBUM)]
        cells.append((Relation.LIKE, ItemKind.ARTIST))
    return cells


def _write(job: ImportJob, tally: Tally, fmt: str, found: list[Part]) -> None:
    provider = FORMAT_PROVIDER[ImportFormat(fmt)]
    items = tally.items()
    report = BatchReport()
    with transaction.atomic():
        matcher = provider_items_write(
            user=job.user,
            provider=provider,
            source=upload_edge_source(provider),
            items=items,
            report=report,
            replace_cells=_replaced_cells(found),
            adopt_sources=(provider,),
        )
        top = sum(1 for item in items if item.relation == Relation.TOP)
        job_beat(
            ImportJob.objects.filter(pk=job.pk),
            status=ImportStatus.SUCCEEDED,
            finished_at=timezone.now(),
            progress_done=ImportJob.objects.get(pk=job.pk).progress_total,
            plays=tally.plays,
            likes=len(tally.liked),
            top=top,
            skipped=tally.skipped,
            unmatched=tally.unmatched,
            changes=report.as_json(),
            items_created=matcher.created,
            error_code="",
            error="",
        )
    logger.info(
        "import succeeded",
        extra={
            "job_id": job.pk,
            "format": fmt,
            "added": report.total("added"),
            "updated": report.total("updated"),
            "removed": report.total("removed"),
            "unchanged": report.total("unchanged"),
        },
    )


def import_job_run(*, job_id: int) -> None:
    """Run one queued job to its end (succeeded or failed), then delete its upload. A running
    job is started again from the start: its message was redelivered because its worker died
    (the write changes nothing twice). A finished job is left alone."""
    claimed = job_beat(
        ImportJob.objects.filter(pk=job_id, status__in=ACTIVE_IMPORT_STATUSES),
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        progress_done=0,
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    try:
        with _local_copy(job.stored_name) as local:
            tally, fmt, found = _read(job, local)
        _write(job, tally, fmt, found)
    except MusicbudError as exc:
        _fail(job_id, exc.code, exc.message)
    except Exception:
        logger.exception("import failed", extra={"job_id": job_id})
        _fail(job_id, "import_failed", IMPORT_FAILED)
    else:
        _job_file_delete(job_id)


def imports_dead_fail(jobs: QuerySet[ImportJob] | None = None) -> list[ImportJob]:
    """Fail the lost jobs among ``jobs`` (all by default): running with no heartbeat for
    ``JOB_HEARTBEAT_STALE_SECONDS``, or queued for ``IMPORT_STALE_SECONDS``; their uploads
    are deleted. Returns them."""
    if jobs is None:
        jobs = ImportJob.objects.filter(status__in=ACTIVE_IMPORT_STATUSES)
    dead = jobs_dead_fail(
        jobs, queued_stale_seconds=settings.IMPORT_STALE_SECONDS, error=IMPORT_LOST
    )
    for job in dead:
        ImportJob.objects.filter(pk=job.pk).update(error_code="import_lost")
        _job_file_delete(job.pk)
        logger.warning("import lost", extra={"job_id": job.pk, "status": job.status})
    return dead
