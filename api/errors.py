"""The one error envelope: every error response is built here, for Ninja operations, Django's
error handlers (handler400/403/404/500, CSRF failures) and the envelope middleware."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from redis.exceptions import RedisError

from api.request_context import current_request_id
from musicbud.errors import AuthenticationFailed, MusicbudError, RateLimited

logger = logging.getLogger(__name__)

_STATUS_CODES = {
    HTTPStatus.BAD_REQUEST: "bad_request",
    HTTPStatus.UNAUTHORIZED: "not_authenticated",
    HTTPStatus.FORBIDDEN: "permission_denied",
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    HTTPStatus.UNPROCESSABLE_ENTITY: "validation_error",
    HTTPStatus.TOO_MANY_REQUESTS: "rate_limited",
    HTTPStatus.INTERNAL_SERVER_ERROR: "server_error",
    HTTPStatus.SERVICE_UNAVAILABLE: "service_unavailable",
}


def status_error_code(status_code: int) -> str:
    """The envelope ``code`` for a bare HTTP status (``method_not_allowed``)."""
    try:
        status = HTTPStatus(status_code)
    except ValueError:
        return "error"
    return _STATUS_CODES.get(status, status.name.lower())


def status_message(status_code: int) -> str:
    """A human message for a bare HTTP status (``Method not allowed``)."""
    try:
        return HTTPStatus(status_code).phrase.capitalize()
    except ValueError:
        return "Error"


def error_response(
    request: HttpRequest | None,
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
) -> JsonResponse:
    body: dict[str, Any] = {
        "error": True,
        "message": message,
        "status_code": status_code,
        "request_id": getattr(request, "request_id", None) or current_request_id(),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if code is not None:
        body["code"] = code
    if details is not None:
        body["details"] = details
    response = JsonResponse(body, status=status_code)
    # Lets the envelope middleware tell an envelope from an error it still has to convert.
    response.error_envelope = True  # type: ignore[attr-defined]
    return response


def domain_error_response(request: HttpRequest | None, exc: MusicbudError) -> JsonResponse:
    """The envelope for a domain error; a 429 and a 503 also say when to retry."""
    response = error_response(
        request, exc.status_code, exc.message, code=exc.code, details=exc.details
    )
    if isinstance(exc, AuthenticationFailed):
        response["WWW-Authenticate"] = exc.www_authenticate
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
        response["RateLimit-Limit"] = str(exc.limit)
        response["RateLimit-Remaining"] = "0"
        response["RateLimit-Reset"] = str(exc.reset)
    if exc.status_code == HTTPStatus.SERVICE_UNAVAILABLE:
        # Every 503 says when to come back (the OpenAPI document requires Retry-After).
        response["Retry-After"] = "5"
    return response


def backing_service_unavailable(request: HttpRequest | None, exc: Exception) -> JsonResponse:
    """503 (retry shortly) when Redis, which holds sessions, tokens and caches, is down."""
    logger.warning("backing service unavailable: %s", type(exc).__name__, exc_info=exc)
    response = error_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "A backing service is unavailable; try again shortly",
        code="service_unavailable",
    )
    response["Retry-After"] = "5"
    return response


def install_exception_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(MusicbudError)
    def _domain(request: HttpRequest, exc: MusicbudError) -> JsonResponse:
        return domain_error_response(request, exc)

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> JsonResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors
        ]
        return error_response(
            request,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "Validation failed",
            code="validation_error",
            details=details,
        )

    @api.exception_handler(AuthenticationError)
    def _auth(request: HttpRequest, exc: AuthenticationError) -> JsonResponse:
        response = error_response(
            request, HTTPStatus.UNAUTHORIZED, "Authentication required", code="not_authenticated"
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(HttpError)
    def _http(request: HttpRequest, exc: HttpError) -> JsonResponse:
        return error_response(
            request, exc.status_code, str(exc), code=status_error_code(exc.status_code)
        )

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> JsonResponse:
        return error_response(request, HTTPStatus.NOT_FOUND, "Not found", code="not_found")

    @api.exception_handler(RedisError)
    def _redis_down(request: HttpRequest, exc: RedisError) -> JsonResponse:
        return backing_service_unavailable(request, exc)

    @api.exception_handler(Exception)
    def _unhandled(request: HttpRequest, exc: Exception) -> JsonResponse:
        # Django's handling logs the traceback, fires got_request_exception (metrics,
        # Sentry) and answers through handler500.
        raise exc


# Django's error views (config/urls.py handler400/403/404/500, CSRF_FAILURE_VIEW).


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return error_response(
            request,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "Request body is too large",
            code="request_too_large",
        )
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return error_response(
            request, HTTPStatus.BAD_REQUEST, "Too many parameters", code="bad_request"
        )
    return error_response(request, HTTPStatus.BAD_REQUEST, "Bad request", code="bad_request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(
        request, HTTPStatus.FORBIDDEN, "Permission denied", code="permission_denied"
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, HTTPStatus.NOT_FOUND, "Not found", code="not_found")


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(
        request, HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error", code="server_error"
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error_response(
        request,
        HTTPStatus.FORBIDDEN,
        f"CSRF verification failed: {reason}" if reason else "CSRF verification failed",
        code="csrf_failed",
    )
