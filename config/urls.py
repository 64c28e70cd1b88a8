"""URL wiring: the admin, the versioned API, its docs and the health endpoints."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja.openapi.views import openapi_view

from api.api import api
from api.health import live, ready


def api_docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI for the v1 API, served from the project's own static files."""
    return openapi_view(request, api)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/docs", api_docs, name="api-docs"),
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
]
