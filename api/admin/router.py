"""/api/v1/admin/: staff-only reads, each guarded by a Django permission."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest
from ninja import Router

from api.admin.schemas import StatsOut
from api.auth import require_permission
from api.openapi import also_answers
from musicbud.selectors.stats import ServiceStats, service_stats

router = Router(tags=["admin"])


@router.get(
    "/stats",
    auth=require_permission("musicbud.view_stats"),
    response=StatsOut,
    url_name="admin-stats",
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
    summary="Counts of users, catalogue items and taste edges",
)
async def stats(request: HttpRequest) -> ServiceStats:
    """For operators: how many users (and active ones), tracks, artists, albums, genres and
    taste edges there are. Needs the `musicbud.view_stats` permission (granted in the admin,
    directly or through a group): 403 `permission_denied` naming it without."""
    return await service_stats()
