"""URL wiring: the landing answer, the admin, the versioned API, its docs, health, metrics and
the error views."""

from collections.abc import Callable
from typing import Any

from csp.constants import SELF
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.html import format_html
from django.views.generic import RedirectView
from ninja.openapi.views import openapi_view

from api.api import api
from api.auth.admin_login import RateLimitedAdminAuthenticationForm
from api.health import live, ready
from api.legacy.api import legacy_urlpatterns
from api.metrics import metrics_view
from musicbud.connections.providers.registry import PROVIDER_NAMES, provider_entry


# Swagger UI's stylesheet draws its icons (the select arrow, the copy button, the model
# toggles) as data: SVG images: allowed on this page only.
@csp_update({"img-src": [SELF, "data:"]})
def api_docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI for the v1 API, served from the project's own static files."""
    return openapi_view(request, api)


# The admin's login spends the API login's budgets (api/auth/README.md).
admin.site.login_form = RateLimitedAdminAuthenticationForm


def landing(request: HttpRequest) -> JsonResponse:
    """What the server is and where to go next: the address ``runserver`` prints."""
    links = {
        "docs": reverse("api-docs"),
        "openapi": reverse("api-v1:openapi-json"),
        "health": reverse("health-ready"),
        "admin": reverse("admin:index"),
    }
    if settings.LEGACY_API_ENABLED:
        links = {**links, "legacy_openapi": reverse("legacy-openapi")}
    return JsonResponse({"name": "musicbud", "links": dict(sorted(links.items()))})


def connect_done(request: HttpRequest) -> HttpResponse:
    """Where a browser lands after connecting a music service (``CONNECT_DONE_URL``'s default):
    a page saying whether it worked, for people who connected outside an app."""
    provider = request.GET.get("provider", "")
    label = provider_entry(provider).label if provider in PROVIDER_NAMES else "The service"
    if request.GET.get("status") == "ok":
        title = f"{label} is connected"
        text = format_html(
            "Your library syncs in the background; its progress is at "
            "<code>GET {}</code>. You can close this window.",
            reverse("api-v1:connection", args=[provider])
            if provider in PROVIDER_NAMES
            else reverse("api-v1:connections"),
        )
    else:
        title = f"{label} was not connected"
        text = format_html("{}", "Nothing was stored. Start connecting again from the app.")
    page = format_html(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{} · musicbud'
        "</title></head><body><h1>{}</h1><p>{}</p>"
        '<p><a href="{}">API docs</a></p></body></html>',
        title,
        title,
        text,
        reverse("api-docs"),
    )
    return HttpResponse(page)


def _slashless(route: str, view: Callable[..., Any], name: str) -> list[URLPattern | URLResolver]:
    """A page without a trailing slash, and its slash variant redirecting to it (301, query
    kept): Django's APPEND_SLASH only ever adds one."""
    return [
        path(route, view, name=name),
        path(
            f"{route}/", RedirectView.as_view(pattern_name=name, permanent=True, query_string=True)
        ),
    ]


urlpatterns: list[URLPattern | URLResolver] = [
    # Exactly "/": the legacy API, also at the root, has no route there.
    path("", landing, name="landing"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    *_slashless("api/docs", api_docs, "api-docs"),
    *_slashless("connect/done", connect_done, "connect-done"),
    *_slashless("health/live", live, "health-live"),
    *_slashless("health/ready", ready, "health-ready"),
    *_slashless("metrics", metrics_view, "metrics"),
]
if settings.LEGACY_API_ENABLED:
    # Last: the legacy routes sit at the root, beside everything above.
    urlpatterns += legacy_urlpatterns()

# Every error Django itself answers is the API's JSON envelope.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
