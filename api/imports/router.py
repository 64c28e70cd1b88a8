"""History uploads: upload an export, follow its import, list mine."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus

from ninja import File, Query, Router, Status, UploadedFile

from api.auth import AuthenticatedRequest, auth
from api.errors import FieldErrors
from api.imports.schemas import ImportOut
from api.openapi import also_answers
from api.pagination import Page, PageParams, offset_page
from api.throttling import enforce_rate_limit
from musicbud.imports.models import ImportJob
from musicbud.imports.selectors import import_get, imports_count, imports_list
from musicbud.imports.services import import_upload

router = Router(tags=["imports"], auth=auth)

RULES = """
**Formats**, recognised by content (never by file name), as a `.zip` the service delivers
or one of its `.json` files alone:
Spotify *Extended streaming history* (`Streaming_History_Audio_*.json`: `ts`, `ms_played`,
`master_metadata_*`, `spotify_track_uri`, `episode_name`, …); Spotify *Account data*
(`StreamingHistory_music_*.json` and the older `StreamingHistory*.json`: `endTime`,
`artistName`, `trackName`, `msPlayed`; and `YourLibrary.json`: `tracks`, `albums`,
`artists`); YouTube Music in a Google Takeout (`watch-history.json` entries whose `header` is
"YouTube Music"; plain YouTube entries are skipped). Other files of an export are ignored.

**Rules.** A stream counts as a **play** when it lasted at least 30 seconds (Takeout records
no duration: each YouTube Music entry is a play); a track's play count is its number of
plays, its last-played time the newest one. Podcast episodes, audiobooks and entries without
a track are **skipped** and counted. **Top** tracks and artists are the 50 with the most
listening time (summed ms; Takeout: plays) in the 365 days ending at the newest stream of the
upload, ranked 1..50 (ties: more plays first, then name). `YourLibrary.json` tracks, albums
and artists become **likes**. Items are matched to the catalogue by the service's id when the
file has one (`spotify:track:…`, the YouTube video id), otherwise by artist and title
(case-insensitive), and created when new, as a sync does.

**Ownership.** The taste an upload brings has the source `spotify_upload` or
`ytmusic_upload`: removing the connection to the same service keeps it, and the service's
sync leaves it alone. An upload takes over the edges that service's sync brought, so the two
never duplicate an edge. Uploading the same export again changes nothing; a newer export
updates play counts and replaces the upload's top lists (and, with a library, its likes).
"""

ERRORS = """
**Errors** (the envelope; nothing is written): 413 `upload_too_large` over
`IMPORT_MAX_UPLOAD_BYTES` (default 256 MB); 415 `upload_unsupported` neither a zip nor JSON;
422 `zip_too_large` (a zip bomb: expanded size or compression ratio over the limits),
`zip_entry_path` (an entry path with `..` or absolute), `json_invalid` (names the file and
the byte offset), `format_unrecognised`, `formats_mixed`; 409 `import_running` while another
import of yours is queued or running; 429 beyond the strict rate limit. Errors found while the
job reads the files (`json_invalid`, `field_type_invalid` naming the file, entry and field)
fail the job with that `error` and write nothing. The upload is deleted when the job ends.
"""


# The multipart body as the document states it (merged into Ninja's): the file part alone.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The export: a .zip as the service delivers it, or "
                        "one of its .json files.",
                    }
                },
                "additionalProperties": False,
            }
        }
    },
}


@router.post(
    "/me/imports",
    response={HTTPStatus.ACCEPTED: ImportOut},
    url_name="my-imports",
    summary="Upload a streaming-history export (multipart field `file`) to import it",
    description=(
        "Answers 202 with the import job; follow it with `GET /me/imports/{id}` (its progress "
        "is streams read of streams in the upload)." + RULES + ERRORS
    ),
    openapi_extra={**also_answers(HTTPStatus.CONFLICT), "requestBody": UPLOAD_BODY},
)
async def upload(request: AuthenticatedRequest, file: File[UploadedFile]) -> Status[ImportJob]:
    unknown = sorted({*request.POST, *request.FILES} - {"file"})
    if unknown:
        raise FieldErrors(
            [
                {
                    "loc": ("body", name),
                    "msg": "Extra inputs are not permitted",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )
    await enforce_rate_limit(request, group="imports.upload", policy="strict")
    job = await import_upload(
        user=request.auth, file=file, name=file.name or "upload", size=file.size or 0
    )
    return Status(HTTPStatus.ACCEPTED, job)


@router.get(
    "/me/imports",
    response=Page[ImportOut],
    url_name="my-imports",
    summary="My imports, newest first",
)
async def my_imports(request: AuthenticatedRequest, params: Query[PageParams]) -> dict[str, object]:
    """Every import I started, newest first, each as `GET /me/imports/{id}` answers it (its
    status, progress, counts and error). Another user's imports are never listed."""
    return await offset_page(
        request,
        params,
        partial(imports_list, user_id=request.auth.pk),
        count=partial(imports_count, user_id=request.auth.pk),
    )


@router.get(
    "/me/imports/{id}",
    response=ImportOut,
    url_name="my-import",
    summary="One of my imports: status, progress, counts, error",
    description="Another user's import, or none, is a 404 `import_not_found`." + RULES,
)
async def my_import(request: AuthenticatedRequest, id: int) -> ImportJob:
    return await import_get(user_id=request.auth.pk, job_id=id)
