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
)
async def stats(request: HttpRequest) -> ServiceStats:
    return await service_stats()
