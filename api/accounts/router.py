"""Account deletion (``/me``), data export (``/me/export``) and reports (``/reports``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import IO
from uuid import UUID

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from ninja import Router, Status

from api.accounts.schemas import AccountDeleteIn, ExportOut, ReportIn, ReportOut
from api.auth import AuthenticatedRequest, auth
from api.openapi import also_answers
from api.throttling import enforce_rate_limit
from musicbud.accounts.deletion import account_delete
from musicbud.accounts.export import (
    ExportView,
    export_blocks,
    export_get,
    export_open,
    export_request,
)
from musicbud.accounts.moderation import ReportView, report_create
from musicbud.accounts.services import email_verified_require

router = Router(tags=["account"], auth=auth)


def _export_out(view: ExportView) -> ExportOut:
    ready = view.status == "ready"
    return ExportOut(
        id=view.id,
        status=view.status,  # type: ignore[arg-type]
        progress=view.progress,
        download_url=reverse("api-v1:my-export-download", args=[view.id]) if ready else None,
        expires_at=view.expires_at,
        created_at=view.created_at,
    )


@router.delete(
    "/me",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="me-delete",
    summary="Delete my account and everything about me",
    description=(
        "Confirmed with the password (422 `wrong_password`). Deletes the profile, taste, "
        "connections (their tokens), memberships, blocks, reports made, exports; messages "
        "stay as 'Deleted account' placeholders without their text; channels the account "
        "alone administered pass to their longest-standing member. Every session and token "
        "ends at once, open chat sockets close; the username and address become free."
    ),
)
async def delete_me(request: AuthenticatedRequest, payload: AccountDeleteIn) -> Status[None]:
    await enforce_rate_limit(request, group="account.delete", policy="strict")
    await account_delete(user_id=request.auth.pk, password=payload.password)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/me/export",
    response={HTTPStatus.ACCEPTED: ExportOut},
    url_name="my-export-request",
    summary="Export my data",
    description=(
        "Starts a job that writes everything about the account into a zip of JSON files "
        "(with a README); poll it at `/me/export/{id}`. One export runs at a time: asking "
        "again answers the running one."
    ),
)
async def request_export(request: AuthenticatedRequest) -> Status[ExportOut]:
    email_verified_require(user=request.auth, action="export")
    await enforce_rate_limit(request, group="account.export", policy="strict")
    view = await export_request(user_id=request.auth.pk)
    return Status(HTTPStatus.ACCEPTED, _export_out(view))


@router.get(
    "/me/export/{export_id}",
    response=ExportOut,
    url_name="my-export",
    summary="An export's state",
    description="Its status, progress, and once ready the download URL and when it expires.",
)
async def get_export(request: AuthenticatedRequest, export_id: UUID) -> ExportOut:
    return _export_out(await export_get(user_id=request.auth.pk, export_id=export_id))


@router.get(
    "/me/export/{export_id}/download",
    response={HTTPStatus.OK: None},
    url_name="my-export-download",
    summary="Download an export (zip)",
    description=(
        "The zip, to its owner only (404 for anyone else's). 409 `export_not_ready`; 410 "
        "`export_expired` once it expired (its file is deleted)."
    ),
    openapi_extra={
        **also_answers(HTTPStatus.CONFLICT, HTTPStatus.GONE),
        "responses": {
            200: {
                "description": "The zip.",
                "content": {
                    "application/zip": {
                        "schema": {"type": "string", "format": "binary"},
                        "example": "(the zip: profile.json, taste.json, ..., README.txt)",
                    }
                },
            },
            **also_answers(HTTPStatus.CONFLICT, HTTPStatus.GONE)["responses"],
        },
    },
)
async def download_export(request: AuthenticatedRequest, export_id: UUID) -> StreamingHttpResponse:
    handle, name = await export_open(user_id=request.auth.pk, export_id=export_id)
    # An async iterator, so the ASGI handler streams the zip block by block; a file object
    # (FileResponse) is a sync iterator, which Django's ASGI handler reads whole into memory
    # first (with a warning).
    response = DownloadResponse(handle, content_type="application/zip")
    size = getattr(handle, "size", None)
    if isinstance(size, int):
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=name) or "attachment"
    )
    response["Cache-Control"] = "private, no-store"
    return response


class DownloadResponse(StreamingHttpResponse):
    """An export's bytes as an async stream (``export_blocks``), the file closed with the
    response too, as FileResponse closes its own: a response closed before its body is read
    (the client gone first, a middleware's own answer) never reads the stream (closing twice
    is harmless)."""

    def __init__(self, handle: IO[bytes], *, content_type: str) -> None:
        super().__init__(export_blocks(handle), content_type=content_type)
        self._handle = handle

    def close(self) -> None:
        self._handle.close()
        super().close()


@router.post(
    "/reports",
    response={HTTPStatus.CREATED: ReportOut},
    url_name="report-create",
    openapi_extra=also_answers(HTTPStatus.NOT_FOUND),
    summary="Report an account or a message",
    description=(
        "Name exactly one of `username` or `message_id` (422 `report_target_required`); a "
        "message must be one you can see (404 otherwise). Staff review reports in the admin; "
        "the reported person is never told. Rate limited."
    ),
)
async def create_report(request: AuthenticatedRequest, payload: ReportIn) -> Status[ReportView]:
    email_verified_require(user=request.auth, action="report")
    await enforce_rate_limit(request, group="reports.create", policy="strict")
    view = await report_create(
        reporter_id=request.auth.pk,
        username=payload.username,
        message_id=payload.message_id,
        reason=payload.reason,
        note=payload.note,
    )
    return Status(HTTPStatus.CREATED, view)
