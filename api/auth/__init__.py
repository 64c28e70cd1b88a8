"""Authentication for the API, and the /api/v1/auth/ endpoints.

Routers use ``auth=auth`` (``request.auth`` is the active ``User``: annotate the request as
``AuthenticatedRequest``) or ``auth=require_permission("app.codename")``; all live in
``api.auth.security``.
"""

from api.auth.security import (
    AuthenticatedRequest,
    BearerOrSessionAuth,
    PermissionRequired,
    auth,
    bearer_token,
    require_csrf,
    require_permission,
)

__all__ = [
    "AuthenticatedRequest",
    "BearerOrSessionAuth",
    "PermissionRequired",
    "auth",
    "bearer_token",
    "require_csrf",
    "require_permission",
]
