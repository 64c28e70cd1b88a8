"""Authentication for the API, and the /api/v1/auth/ endpoints.

Routers use ``auth=auth`` (``request.auth`` is the active ``User``) or
``auth=require_permission("app.codename")``; both live in ``api.auth.security``.
"""

from api.auth.security import (
    BearerOrSessionAuth,
    PermissionRequired,
    auth,
    bearer_token,
    require_csrf,
    require_permission,
)

__all__ = [
    "BearerOrSessionAuth",
    "PermissionRequired",
    "auth",
    "bearer_token",
    "require_csrf",
    "require_permission",
]
