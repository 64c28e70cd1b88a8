"""URL wiring: the admin, the versioned API, its docs, health, metrics and the error views."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja.openapi.views import openapi_view

from api.api import api
from api.auth.admin_login import RateLimitedAdminAuthenticationForm
from api.health import live, ready
from api.legacy.api import legacy_urlpatterns
from api.metrics import metrics_view


def api_docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI for the v1 API, served from the project's own static files."""
    return openapi_view(request, api)


# The admin's login spends the API login's budgets (api/auth/README.md).
admin.site.login_form = RateLimitedAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/docs", api_docs, name="api-docs"),
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
]
if settings.LEGACY_API_ENABLED:
    # Last: the legacy routes sit at the root, beside everything above.
    urlpatterns += legacy_urlpatterns()

# Every error Django itself answers is the API's JSON envelope.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
