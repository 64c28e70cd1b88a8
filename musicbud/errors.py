"""The domain's one exception base; ``api.errors`` turns it into the error envelope."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class MusicbudError(Exception):
    """Base of every error the domain raises on purpose; ``code`` is machine-readable."""

    code = "error"
    status_code = HTTPStatus.BAD_REQUEST
    # False for an answer that is an expected state, not a fault: the access log line says all
    # there is to say, and Django's request logger stays silent about it.
    log_request = True

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = HTTPStatus(status_code)
        self.details = details


class NotFound(MusicbudError):
    code = "not_found"
    status_code = HTTPStatus.NOT_FOUND


class Conflict(MusicbudError):
    code = "conflict"
    status_code = HTTPStatus.CONFLICT


class InvalidInput(MusicbudError):
    code = "validation_error"
    status_code = HTTPStatus.UNPROCESSABLE_ENTITY


class InvalidCursor(InvalidInput):
    """A page cursor that is not one the API issued: the same answer on every list."""

    code = "invalid_cursor"

    def __init__(self, message: str = "Invalid cursor") -> None:
        details = [{"field": "query.cursor", "message": message, "type": "invalid_cursor"}]
        super().__init__(message, details=details)


class AuthenticationFailed(MusicbudError):
    code = "not_authenticated"
    status_code = HTTPStatus.UNAUTHORIZED
    # RFC 7235: a 401 names the scheme to use; RFC 6750 adds the error for bad tokens.
    www_authenticate = "Bearer"


class PermissionDenied(MusicbudError):
    code = "permission_denied"
    status_code = HTTPStatus.FORBIDDEN


class RateLimited(MusicbudError):
    code = "rate_limited"
    status_code = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, message: str, *, retry_after: int, limit: int, reset: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.reset = reset


class ServiceUnavailable(MusicbudError):
    code = "service_unavailable"
    status_code = HTTPStatus.SERVICE_UNAVAILABLE
