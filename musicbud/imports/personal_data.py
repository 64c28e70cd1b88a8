"""The uploads' part of a person's data (the registry: musicbud/accounts/personal_data.py)."""

from __future__ import annotations

from typing import Any

from musicbud.accounts.personal_data import PersonalDataPart, personal_data_register
from musicbud.imports.models import ImportJob
from musicbud.imports.services import import_storage
from musicbud.models import User


def _imports(user: User) -> list[dict[str, Any]]:
    return [
        {
            "id": job.pk,
            "format": job.format,
            "file_name": job.upload_name,
            "file_size": job.file_size,
            "status": job.status,
            "plays": job.plays,
            "likes": job.likes,
            "top": job.top,
            "skipped": job.skipped,
            "unmatched": job.unmatched,
            "error": job.error,
            "created_at": job.created_at.isoformat(),
            "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
        }
        for job in ImportJob.objects.filter(user=user).order_by("pk")
    ]


def _uploads_erase(user: User) -> None:
    """An upload still waiting for its job leaves the storage with the account."""
    storage = import_storage()
    for name in (
        ImportJob.objects.filter(user=user)
        .exclude(stored_name="")
        .values_list("stored_name", flat=True)
    ):
        if storage.exists(name):
            storage.delete(name)


personal_data_register(
    PersonalDataPart(
        name="imports",
        description="Your history uploads: file, format, status and what each brought in.",
        models=("imports.ImportJob",),
        export=_imports,
        erase=_uploads_erase,
        order=40,
    )
)
