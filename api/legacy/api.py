"""The legacy API's own NinjaAPI: its routes, error handlers, rate limits and URL patterns
(mounted at ``/`` and ``/v1/``), and its OpenAPI document at ``/api/legacy/openapi.json``."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import ResolverMatch, URLPattern, URLResolver, include, path
from django.urls.resolvers import RoutePattern

from api.errors import install_exception_handlers
from api.legacy.operations import ROUTES, legacy_view
from api.openapi import DocumentedNinjaAPI
from api.throttling import install_rate_limits

# Its OpenAPI document lists every answer of every operation (api/openapi.py).
legacy_api = DocumentedNinjaAPI(
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
legacy_api.add_router("/", "api.legacy.connections.router")
legacy_api.add_router("/", "api.legacy.users.router")


_DEPRECATION_HEADERS = {
    "Deprecation": {
        "description": "RFC 9745: when this API was deprecated (an @-timestamp).",
        "required": True,
        "schema": {"type": "string"},
    },
    "Sunset": {
        "description": "RFC 8594: the HTTP-date after which it is gone.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'Where a v1 operation replaces it: `<path>; rel="successor-version"`.',
        "required": False,
        "schema": {"type": "string"},
    },
}


@functools.cache
def _legacy_document() -> bytes:
    """The legacy OpenAPI document, built and rendered once per process."""
    # A copy through JSON: the API's own document stays as it built it.
    schema = json.loads(
        json.dumps(legacy_api.get_openapi_schema(path_prefix="/"), cls=DjangoJSONEncoder)
    )
    schema["servers"] = [{"url": "/"}, {"url": "/v1"}]
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            for answer in operation["responses"].values():
                answer["headers"] = {**answer.get("headers", {}), **_DEPRECATION_HEADERS}
    return json.dumps(schema).encode()


def legacy_openapi(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_legacy_document(), content_type="application/json")


class RouteTable(URLPattern):
    """Every legacy path behind one URL pattern, found by one dict lookup (the few with a
    parameter, ``users/<user_id>``, by matching them in turn after it).

    As ~90 separate patterns, each request to one of the last would first be matched against
    all the others: a scan that costs a cached read more than the read itself. The match
    names the path it found (``me/profile/``) as its route, as a pattern of its own would.
    """

    def __init__(self, views: dict[str, Callable[..., Any]]) -> None:
        super().__init__(RoutePattern("<path:route>", is_endpoint=True), _not_a_view)
        self.views = {route: view for route, view in views.items() if "<" not in route}
        self.parameterised = [
            (RoutePattern(route, is_endpoint=True), route, view)
            for route, view in views.items()
            if "<" in route
        ]

    def resolve(self, path: str) -> ResolverMatch | None:
        view = self.views.get(path)
        if view is not None:
            return ResolverMatch(view, (), {}, route=path, captured_kwargs={}, extra_kwargs={})
        for pattern, route, candidate in self.parameterised:
            found = pattern.match(path)
            if found is not None:
                _, _, kwargs = found
                return ResolverMatch(
                    candidate, (), kwargs, route=route, captured_kwargs=kwargs, extra_kwargs={}
                )
        return None


def _not_a_view(request: HttpRequest) -> HttpResponse:
    raise Http404  # RouteTable.resolve picks the view; this one is never matched


def _views() -> dict[str, Callable[..., Any]]:
    views: dict[str, Callable[..., Any]] = {}
    for pattern in legacy_api.urls[0]:
        path_route = str(pattern.pattern)
        # Ninja spells a path parameter <name>; the declaration, {name}.
        declared = path_route.strip("/").replace("<", "{").replace(">", "}")
        route = ROUTES.get(declared)
        if route is None or not isinstance(pattern, URLPattern):
            continue  # Ninja's own root view: the legacy API has no root
        views[path_route] = legacy_view(pattern.callback, route)
    return views


def legacy_urlpatterns() -> list[URLPattern | URLResolver]:
    """Every legacy route under ``/v1/`` and at the root, and the legacy OpenAPI document."""
    table = RouteTable(_views())
    return [
        path("api/legacy/openapi.json", legacy_openapi, name="legacy-openapi"),
        path("v1/", include(([table], "legacy"), namespace="legacy-v1")),
        path("", include(([table], "legacy"), namespace="legacy")),
    ]
