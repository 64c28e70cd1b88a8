"""Authentication for the API, and the /api/v1/auth/ endpoints.

Routers use ``auth=auth`` (``request.auth`` is the active ``User``: annotate the request as
``AuthenticatedRequest``) or ``auth=require_permission("app.codename")``.
"""

from api.auth.security import AuthenticatedRequest, auth, require_permission

__all__ = ["AuthenticatedRequest", "auth", "require_permission"]
