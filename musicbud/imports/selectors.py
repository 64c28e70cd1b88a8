"""Reads of a user's history uploads (their jobs), newest first."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from musicbud.errors import NotFound
from musicbud.imports.models import ImportJob


async def import_get(*, user_id: int, job_id: int) -> ImportJob:
    """One of the user's imports; another user's, or none, is a 404."""
    job = await ImportJob.objects.filter(user_id=user_id, pk=job_id).afirst()
    if job is None:
        raise NotFound("No such import", code="import_not_found")
    return job


@sync_to_async
def imports_list(*, user_id: int, offset: int, limit: int) -> list[ImportJob]:
    """Up to ``limit + 1`` of the user's imports from ``offset``, newest first."""
    jobs = ImportJob.objects.filter(user_id=user_id)
    return list(jobs.order_by("-pk")[offset : offset + limit + 1])


async def imports_count(*, user_id: int) -> int:
    """How many imports ``imports_list`` pages through."""
    return await ImportJob.objects.filter(user_id=user_id).acount()
