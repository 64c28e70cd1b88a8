"""Authentication for the API: routers use ``auth=auth`` (``request.auth`` is the active user;
annotate the request ``AuthenticatedRequest``) or ``auth=require_permission("app.codename")``."""

from api.auth.security import AuthenticatedRequest, auth, require_permission

__all__ = ["AuthenticatedRequest", "auth", "require_permission"]
