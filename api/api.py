"""The one NinjaAPI of the project, mounted at /api/v1/."""

from __future__ import annotations

from django.conf import settings
from ninja import NinjaAPI

from api.errors import install_exception_handlers

api = NinjaAPI(
    title=settings.API_TITLE,
    version=settings.API_VERSION,
    description=settings.API_DESCRIPTION,
    urls_namespace="api-v1",
    docs_url=None,
)
install_exception_handlers(api)

# Order matters where paths overlap: each router declares its fixed paths before its
# parameterised ones.
api.add_router("/", "api.users.router.router")
api.add_router("/", "api.catalogue.router.router")
api.add_router("/", "api.taste.router.router")
api.add_router("/", "api.buds.router.router")
