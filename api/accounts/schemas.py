"""Schemas of account deletion, data export and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field

from api.schemas import InputSchema
from musicbud.accounts.models import ReportReason


class AccountDeleteIn(InputSchema):
    password: str = Field(max_length=128, description="The current password, to confirm.")


class ExportOut(Schema):
    id: UUID
    status: Literal["queued", "running", "ready", "failed", "expired"]
    progress: int = Field(ge=0, le=100)
    download_url: str | None = Field(
        description="Authenticated (send the same credentials); null until ready."
    )
    expires_at: datetime | None
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4f7a0a3c-2f1b-4b43-9a55-0d6f5f0e9b1a",
                    "status": "ready",
                    "progress": 100,
                    "download_url": (
                        "/api/v1/me/export/4f7a0a3c-2f1b-4b43-9a55-0d6f5f0e9b1a/download"
                    ),
                    "expires_at": "2026-12-09T06:00:00.000Z",
                    "created_at": "2026-12-07T06:00:00.000Z",
                }
            ]
        }
    )


class ReportIn(InputSchema):
    username: str | None = Field(None, min_length=1, max_length=150)
    message_id: UUID | None = Field(None, description="The message's id, as chat shows it.")
    reason: ReportReason
    note: str = Field("", max_length=1000)


class ReportOut(Schema):
    id: int
    reason: str
    status: str
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "reason": "spam",
                    "status": "open",
                    "created_at": "2026-12-07T06:00:00.000Z",
                }
            ]
        }
    )
