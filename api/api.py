"""The one NinjaAPI of the project, mounted at /api/v1/."""

from __future__ import annotations

from django.conf import settings
from ninja import Swagger

from api.errors import install_exception_handlers
from api.openapi import DocumentedNinjaAPI
from api.throttling import install_rate_limits

# Its OpenAPI document lists every answer of every operation (api/openapi.py).
api = DocumentedNinjaAPI(
    title=settings.API_TITLE,
    version=settings.API_VERSION,
    description=settings.API_DESCRIPTION,
    urls_namespace="api-v1",
    # Served at /api/docs (config/urls.py) from the project's static files; no validator
    # badge, which would call validator.swagger.io from the reader's browser.
    docs=Swagger(settings={"validatorUrl": None}),
    docs_url=None,
)
install_exception_handlers(api)
install_rate_limits(api)
api.add_router("/auth/", "api.auth.router.router")
api.add_router("/admin/", "api.admin.router.router")
api.add_router("/chat/", "api.chat.router.router")

# Order matters where paths overlap: each router declares its fixed paths before its
# parameterised ones.
api.add_router("/", "api.accounts.router.router")
api.add_router("/", "api.users.router.router")
api.add_router("/", "api.catalogue.router.router")
api.add_router("/", "api.taste.router.router")
api.add_router("/", "api.buds.router.router")
api.add_router("/", "api.connections.router.router")
api.add_router("/", "api.imports.router.router")
api.add_router("/", "api.relationships.router.router")
