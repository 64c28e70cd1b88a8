"""The legacy API's own NinjaAPI: its routes, error handlers, rate limits and URL patterns
(mounted at ``/`` and ``/v1/``), and its OpenAPI document at ``/api/legacy/openapi.json``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from ninja import NinjaAPI

from api.errors import install_exception_handlers
from api.legacy.operations import ROUTES, legacy_view
from api.throttling import install_rate_limits

legacy_api = NinjaAPI(
    title=f"{settings.API_TITLE}: legacy routes",
    version="legacy",
    description=(
        "The routes of the musicbud apps already installed, kept until the Sunset date each "
        "response announces. Every operation is deprecated; `/api/v1/` replaces them."
    ),
    urls_namespace="legacy",
    openapi_url=None,
    docs_url=None,
)
install_exception_handlers(legacy_api)
install_rate_limits(legacy_api)
legacy_api.add_router("/", "api.legacy.auth.router")
legacy_api.add_router("/", "api.legacy.me.router")
legacy_api.add_router("/", "api.legacy.buds.router")
legacy_api.add_router("/", "api.legacy.unserved.router")


def legacy_openapi(request: HttpRequest) -> HttpResponse:
    schema = legacy_api.get_openapi_schema(path_prefix="/")
    schema["servers"] = [{"url": "/"}, {"url": "/v1"}]
    return JsonResponse(schema)


def _patterns() -> list[URLPattern]:
    patterns: list[URLPattern] = []
    for pattern in legacy_api.urls[0]:
        route = ROUTES.get(str(pattern.pattern).strip("/"))
        if route is None or not isinstance(pattern, URLPattern):
            continue  # Ninja's own root view: the legacy API has no root
        patterns.append(
            URLPattern(pattern.pattern, legacy_view(pattern.callback, route), name=pattern.name)
        )
    return patterns


def legacy_urlpatterns() -> list[URLPattern | URLResolver]:
    """Every legacy route at the root and under ``/v1/``, and the legacy OpenAPI document."""
    patterns = _patterns()
    return [
        path("api/legacy/openapi.json", legacy_openapi, name="legacy-openapi"),
        path("", include((patterns, "legacy"), namespace="legacy")),
        path("v1/", include((patterns, "legacy"), namespace="legacy-v1")),
    ]
