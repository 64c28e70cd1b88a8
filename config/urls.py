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
from django.views.generic import RedirectView
from ninja.openapi.views import openapi_view

from api.api import api
from api.auth.admin_login import RateLimitedAdminAuthenticationForm
from api.health import live, ready
from api.legacy.api import legacy_urlpatterns
from api.metrics import metrics_view


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
