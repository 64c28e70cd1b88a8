"""Schemas of history uploads: an import job as the app draws it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field

from musicbud.imports.models import ImportJob

IMPORT_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "status": "succeeded",
    "format": "spotify_extended",
    "progress": {"done": 100000, "total": 100000},
    "counts": {"plays": 81234, "likes": 0, "top": 100, "skipped": 1520, "unmatched": 12},
    "error": None,
    "created_at": "2026-12-07T06:00:00Z",
    "finished_at": "2026-12-07T06:00:09Z",
}


class ProgressOut(Schema):
    done: int = Field(description="Streams (or library entries) read so far.")
    total: int = Field(description="Streams (or library entries) in the upload; 0 until known.")


class CountsOut(Schema):
    plays: int = Field(description="Streams counted as plays (at least 30 s; Takeout: every one).")
    likes: int = Field(description="Library entries (YourLibrary.json) made likes.")
    top: int = Field(description="Top tracks and artists ranked (at most 50 of each).")
    skipped: int = Field(
        description="Streams skipped: episodes, audiobooks, entries without a track, plain YouTube."
    )
    unmatched: int = Field(
        description="Music entries with nothing to match them by (no id, and no artist)."
    )


class ImportErrorOut(Schema):
    code: str = Field(description="Stable, machine-readable: json_invalid, field_type_invalid, …")
    message: str


class ImportOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [IMPORT_EXAMPLE]})

    id: int
    status: str = Field(description="queued | running | succeeded | failed")
    format: str = Field(description="spotify_extended | spotify_account | ytmusic_takeout")
    progress: ProgressOut
    counts: CountsOut
    error: ImportErrorOut | None = Field(description="Why the import failed; null otherwise.")
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_progress(job: ImportJob) -> dict[str, int]:
        return {"done": job.progress_done, "total": job.progress_total}

    @staticmethod
    def resolve_counts(job: ImportJob) -> dict[str, int]:
        return {
            "plays": job.plays,
            "likes": job.likes,
            "top": job.top,
            "skipped": job.skipped,
            "unmatched": job.unmatched,
        }

    @staticmethod
    def resolve_error(job: ImportJob) -> dict[str, str] | None:
        if job.status != "failed":
            return None
        return {"code": job.error_code or "import_failed", "message": job.error}
