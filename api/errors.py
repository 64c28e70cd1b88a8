"""The one error envelope: every error response is built here, for Ninja operations, Django's
error handlers (handler400/403/404/500, CSRF failures) and the envelope middleware."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.handlers.exception import response_for_exception
from django.db import InterfaceError, OperationalError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.debug import SafeExceptionReporterFilter
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError, ValidationErrorContext
from redis.exceptions import RedisError

from api.request_context import current_request_id
from musicbud.errors import AuthenticationFailed, MusicbudError, RateLimited

logger = logging.getLogger(__name__)
AnswerT = TypeVar("AnswerT", bound=HttpResponseBase)

OUTAGE_MESSAGE = "A backing service is unavailable; try again shortly"

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


# Where a bad field was sent; every validation error's ``field`` starts with one, then names
# the field's path in that input (``body.likes.0.kind``, ``query.cursor``, ``path.kind``).
FIELD_LOCATIONS = ("body", "query", "path", "header", "cookie")
# Ninja names a body by its view parameter (``body.payload.username``): not part of the API.
_NAMED_LOCATIONS = frozenset({"body", "form", "file"})


class FieldErrors(ValidationError):
    """Validation errors whose ``loc`` already is the field's path, its location first (no
    view parameter name in it): inputs parsed outside Ninja's signature (the legacy layer)."""


def field_path(loc: Sequence[object], *, named: bool = True) -> str:
    """A validation error's ``field``: its location, then the path of the field in it;
    ``named``: the location's second part is the view parameter's name (Ninja's bodies)."""
    parts = [str(part) for part in loc]
    if named and len(parts) >= 2 and parts[0] in _NAMED_LOCATIONS:
        del parts[1]
    if parts and parts[0] in ("form", "file"):
        parts[0] = "body"  # a form is a body
    return ".".join(parts)


def _located(details: Any) -> Any:
    """Domain validation details name a field of the request body (``email``): give them the
    location every validation error's field starts with (``body.email``)."""
    if not isinstance(details, list):
        return details
    return [
        {**detail, "field": f"body.{detail['field']}"}
        if isinstance(detail, dict)
        and isinstance(detail.get("field"), str)
        and detail["field"].split(".", 1)[0] not in FIELD_LOCATIONS
        else detail
        for detail in details
    ]


def domain_error_response(request: HttpRequest | None, exc: MusicbudError) -> JsonResponse:
    """The envelope for a domain error; a 429 and a 503 also say when to retry."""
    response = error_response(
        request, exc.status_code, exc.message, code=exc.code, details=_located(exc.details)
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
    if not exc.log_request:
        # What django.utils.log.log_response checks before logging a 4xx or 5xx answer.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# Connection failures: libpq reports them without a SQLSTATE, or in class 08 (connection
# exception); 57P01-57P03 are the server shutting down, crashing or still starting.
_SERVER_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})


def database_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not be reached (a connection that could not
    be made or was lost, or no pooled connection within ``DB_POOL_TIMEOUT_SECONDS``), not
    that a query itself failed."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    if isinstance(cause, psycopg.InterfaceError):
        return True  # the connection is closed
    if not isinstance(cause, psycopg.OperationalError):
        return False
    state = cause.sqlstate
    return state is None or state.startswith("08") or state in _SERVER_GONE_STATES


def service_outage_response(request: HttpRequest | None, exc: BaseException) -> JsonResponse | None:
    """The 503 for an exception that means a backing service is down; None for any other."""
    if isinstance(exc, RedisError) or database_unreachable(exc):
        return backing_service_unavailable(request, exc)
    return None


def backing_service_unavailable(request: HttpRequest | None, exc: BaseException) -> JsonResponse:
    """503 (retry shortly) when the database or Redis (sessions, tokens, caches) is down."""
    logger.warning("backing service unavailable: %s", type(exc).__name__, exc_info=exc)
    response = error_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        OUTAGE_MESSAGE,
        code="service_unavailable",
    )
    response["Retry-After"] = "5"
    return response


def handled_exception_response(request: HttpRequest, exc: BaseException) -> JsonResponse | None:
    """The envelope middleware's answer to an exception a view raised: a domain error's
    envelope, or the 503 of an outage; None for any other exception (Django's to handle)."""
    if isinstance(exc, MusicbudError):
        return answered(exc, domain_error_response(request, exc))
    response = service_outage_response(request, exc)
    return response if response is None else answered(exc, response)


def answered(exc: BaseException | None, response: AnswerT) -> AnswerT:
    """``response``, the answer to ``exc``, once ``exc`` (and the exceptions it chains) no
    longer hold their tracebacks. A traceback keeps the frames it passed through, and
    several of those hold the exception itself — asgiref's hop keeps it in its future and in
    the ``exc_info`` it carries to the thread — so an answered 404 or 422 would leave its
    exception, frames, request and response to the cycle collector. Only for what is
    logged before its answer is built (a log record keeps the traceback it was given) or
    not logged with a traceback at all: Django logs a 400's and a 403's exception after
    handler400/403 answer it, so those keep theirs; an unhandled exception keeps its own."""
    chained: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while chained:
        current = chained.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        chained += [current.__cause__, current.__context__]
    return response


async def exception_response(request: HttpRequest, exc: Exception) -> HttpResponseBase:
    """What the request's handling answers for an exception ``exc`` a view raised, as if it
    had left the view: ``handled_exception_response``, else Django's own handling (the
    ``got_request_exception`` signal, the error log, ``handler500``), on the same thread
    Django's async handler uses. Call it while handling ``exc`` (in its ``except`` block):
    the hop carries the exception along, so ``sys.exc_info()`` still names it there."""
    handled = handled_exception_response(request, exc)
    if handled is not None:
        return handled
    response: HttpResponseBase = await sync_to_async(
        response_for_exception, thread_sensitive=False
    )(request, exc)
    return response


class ErrorReportFilter(SafeExceptionReporterFilter):
    """Django's filter for error reports (the DEBUG page, error emails), minus one cost: a
    query set among a frame's variables is described, not printed, since printing runs its
    query, once per frame holding it; against an unreachable database each run waits out
    the connection timeouts again."""

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        if isinstance(value, QuerySet):
            return f"<{type(value).__name__} of {value.model.__name__}, not evaluated here>"
        return super().cleanse_special_types(request, value)


class AnsweringNinjaAPI(NinjaAPI):
    """A NinjaAPI whose answered exceptions leave no reference cycle behind: whatever its
    exception handlers answer (an exception they raise again goes on to Django with its
    traceback), and the pydantic errors behind a 422."""

    def on_exception(self, request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
        response = super().on_exception(request, exc)
        return answered(exc, response) if isinstance(exc, Exception) else response

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        """Ninja's 422 error, its pydantic errors then let go of their tracebacks: each
        traceback holds the frame of Ninja's that holds the error contexts (and the request's
        response), a cycle per invalid request the collector would have to free."""
        error = super().validation_error_from_error_contexts(error_contexts)
        for context in error_contexts:
            context.pydantic_validation_error.__traceback__ = None
        return error


def install_exception_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(MusicbudError)
    def _domain(request: HttpRequest, exc: MusicbudError) -> JsonResponse:
        return domain_error_response(request, exc)

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> JsonResponse:
        named = not isinstance(exc, FieldErrors)
        details = [
            {
                "field": field_path(err.get("loc", ()), named=named),
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
        outage = service_outage_response(request, exc)
        if outage is not None:
            return outage
        # Django's handling logs the traceback, fires got_request_exception (metrics,
        # Sentry) and answers through handler500.
        raise exc


# Django's error views (config/urls.py handler400/403/404/500, CSRF_FAILURE_VIEW).


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        status, message = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request body is too large"
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        status, message = HTTPStatus.BAD_REQUEST, "Too many parameters"
    else:
        status, message = HTTPStatus.BAD_REQUEST, "Bad request"
    # Not ``answered``: Django logs the exception, traceback included, once this returns.
    return error_response(request, status, message, code=status_error_code(status))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Not ``answered``: Django logs the exception, traceback included, once this returns.
    return error_response(
        request, HTTPStatus.FORBIDDEN, "Permission denied", code="permission_denied"
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Django logs a 404 without its traceback.
    return answered(
        exception,
        error_response(request, HTTPStatus.NOT_FOUND, "Not found", code="not_found"),
    )


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception (also outside any view: a middleware
    # saving the session), so it can still tell an outage from a bug.
    exc = sys.exc_info()[1]
    outage = service_outage_response(request, exc) if exc is not None else None
    if outage is not None:
        return outage
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
