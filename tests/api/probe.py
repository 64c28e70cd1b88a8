"""A test URLconf: the project's URLs plus a probe API wired exactly like ``api.api``, with one
operation per behaviour the platform must handle (sync and async, auth, validation, failures)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from ninja import NinjaAPI, Query, Router, Schema
from prometheus_client import REGISTRY
from pydantic import Field

from api.auth import auth
from api.errors import install_exception_handlers
from api.request_context import current_request_id
from api.throttling import enforce_rate_limit, install_rate_limits
from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as project_urlpatterns
from musicbud.errors import PermissionDenied

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

logger = logging.getLogger("tests.probe")
probe_api = NinjaAPI(urls_namespace="probe", docs_url=None, openapi_url=None)
install_exception_handlers(probe_api)
install_rate_limits(probe_api)
router = Router()


class ItemIn(Schema):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)
    password: str | None = None


class SearchQuery(Schema):
    q: str = Field(max_length=100)
    limit: int = Field(10, ge=1, le=100)


@router.get("/async", url_name="probe-async")
async def async_ok(request: HttpRequest) -> dict[str, str]:
    return {"mode": "async"}


@router.get("/sync", url_name="probe-sync")
def sync_ok(request: HttpRequest) -> dict[str, str]:
    return {"mode": "sync"}


@router.post("/items", url_name="probe-items")
async def item_create(request: HttpRequest, payload: ItemIn) -> dict[str, Any]:
    return {"name": payload.name, "count": payload.count}


@router.get("/items/{item_id}", url_name="probe-item")
async def item_read(request: HttpRequest, item_id: int) -> dict[str, int]:
    return {"id": item_id}


@router.get("/search", url_name="probe-search")
async def search(request: HttpRequest, params: Query[SearchQuery]) -> dict[str, Any]:
    return {"q": params.q, "limit": params.limit}


@router.get("/django-forbidden", url_name="probe-django-forbidden")
async def django_forbidden(request: HttpRequest) -> dict[str, str]:
    raise DjangoPermissionDenied


@router.get("/work", url_name="probe-work")
async def work(request: HttpRequest, pause: float = 0.0) -> dict[str, Any]:
    """Logs before and after yielding to the loop, and from a worker thread."""
    logger.info("probe work started")
    await asyncio.sleep(pause)
    await sync_to_async(logger.info, thread_sensitive=False)("probe work in a thread")
    return {"request_id": current_request_id()}


@router.get("/in-flight", url_name="probe-in-flight")
async def in_flight(request: HttpRequest) -> dict[str, float | None]:
    return {"in_flight": REGISTRY.get_sample_value("musicbud_http_requests_in_flight")}


@router.get("/private", auth=auth, url_name="probe-private")
async def private(request: HttpRequest) -> dict[str, Any]:
    return {"user_id": request.auth.pk}  # type: ignore[attr-defined]


@router.get("/forbidden", url_name="probe-forbidden")
async def forbidden(request: HttpRequest) -> dict[str, str]:
    raise PermissionDenied("Needs musicbud.view_stats", code="permission_denied")


@router.get("/boom", url_name="probe-boom")
async def boom(request: HttpRequest) -> dict[str, str]:
    raise RuntimeError("kaboom with password=hunter2")


@router.get("/big", url_name="probe-big")
async def big(request: HttpRequest) -> dict[str, str]:
    return {"data": "musicbud " * 100}


probe_api.add_router("/probe", router)


class ExplodingMiddleware:
    """Raises from inside the middleware chain when asked to (X-Explode header)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_EXPLODE" in request.META:
            raise RuntimeError("middleware exploded")
        return self.get_response(request)


def database_backend_pid(request: HttpRequest) -> JsonResponse:
    """The PostgreSQL backend serving this request's ORM connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return JsonResponse({"pid": pid})


async def plain_rate_limited(request: HttpRequest) -> JsonResponse:
    """A plain Django view (no Ninja) using the strict policy, as auth views may."""
    await enforce_rate_limit(request, group="probe.plain", policy="strict")
    return JsonResponse({"ok": True})


urlpatterns = [
    path("probe/plain-limited", plain_rate_limited, name="probe-plain-limited"),
    path("api/v1/probe-api/", probe_api.urls),
    path("probe/db-pid", database_backend_pid, name="probe-db-pid"),
    *project_urlpatterns,
]
