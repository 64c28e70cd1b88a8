"""The project's middleware, async-native: each class serves sync and async chains directly,
so the async path has no MiddlewareMixin ``sync_to_async`` hop."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import sentry_sdk
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve

from api import metrics
from api.errors import (
    domain_error_response,
    error_response,
    service_outage_response,
    status_error_code,
    status_message,
)
from api.request_context import (
    REQUEST_ID_HEADER,
    client_ip,
    request_id_from_header,
    request_id_var,
)
from api.throttling import REQUEST_ATTRIBUTE, RateLimitState, request_user_id
from config.asgi_handler import BODY_TOO_LARGE
from musicbud.errors import MusicbudError

access_logger = logging.getLogger("musicbud.access")

SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

API_PATH_PREFIX = "/api/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The API speaks JSON; multipart stays allowed for uploads.
API_MEDIA_TYPES = ("application/json", "multipart/form-data")
# Headers of a replaced error response that still describe the error.
_REPLACED_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


class AsyncNativeMiddleware:
    """Base: ``__call__`` returns a coroutine on an async chain and a response on a sync one."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: SyncGetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.acall(request)
        return self.call(request)

    def call(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError


def route_template(request: HttpRequest) -> str:
    """The matched URL pattern (``api/v1/users/<int:user_id>``), never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return metrics.UNMATCHED_ROUTE
    return "/" + str(match.route).lstrip("^").rstrip("$")


class RequestContextMiddleware(AsyncNativeMiddleware):
    """Outermost: request id, per-request headers, metrics and the one access-log line."""

    def _start(self, request: HttpRequest) -> tuple[Any, float]:
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        if sentry_sdk.get_client().is_active():
            # The Django integration gives every request its own isolation scope.
            sentry_sdk.get_isolation_scope().set_tag("request_id", request_id)
        metrics.IN_FLIGHT.inc()
        return token, time.perf_counter()

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, token: Any, started: float
    ) -> HttpResponseBase:
        try:
            seconds = time.perf_counter() - started
            route = route_template(request)
            response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
            response["X-XSS-Protection"] = settings.X_XSS_PROTECTION
            state: RateLimitState | None = getattr(request, REQUEST_ATTRIBUTE, None)
            if state is not None:
                for name, value in state.headers().items():
                    response.headers.setdefault(name, value)
            metrics.request_observed(
                route=route,
                method=request.method or "",
                status=response.status_code,
                seconds=seconds,
            )
            access_logger.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 2),
                    "user_id": request_user_id(request),
                    "client_ip": client_ip(request),
                },
            )
        finally:
            metrics.IN_FLIGHT.dec()
            request_id_var.reset(token)
        return response

    def _abandon(self, token: Any) -> None:
        # Django turns exceptions into responses below us; this only keeps the gauge and
        # the context right if something still escapes.
        metrics.IN_FLIGHT.dec()
        request_id_var.reset(token)

    def call(self, request: HttpRequest) -> HttpResponseBase:
        token, started = self._start(request)
        try:
            response = self.get_response(request)
        except BaseException:
            self._abandon(token)
            raise
        return self._finish(request, response, token, started)  # type: ignore[arg-type]

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        token, started = self._start(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        except BaseException:
            self._abandon(token)
            raise
        return self._finish(request, response, token, started)


def _reject_body(request: HttpRequest) -> HttpResponseBase | None:
    """413 for a declared body over the limit, 415 for a non-JSON body sent to the API."""
    rejected = _body_rejection(request)
    if rejected is not None:
        # Rejected before URL resolution; resolve anyway so metrics and the access log
        # name the route that was refused.
        with contextlib.suppress(Resolver404):
            request.resolver_match = resolve(request.path_info)
    return rejected


# A JSON string escape of U+0000 that is not itself an escaped backslash.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _has_nul(request: HttpRequest) -> bool:
    """PostgreSQL text cannot hold U+0000, and no name, query or bio needs it: refuse it at
    the door rather than let it reach the database as a 500."""
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if request.path.startswith(API_PATH_PREFIX) and request.method in BODY_METHODS:
        body = request.body
        return b"\x00" in body or _JSON_NUL.search(body) is not None
    return False


def _too_large(request: HttpRequest) -> HttpResponseBase:
    return error_response(
        request,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"Request body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes",
        code="request_too_large",
    )


def _body_rejection(request: HttpRequest) -> HttpResponseBase | None:
    if getattr(request, "scope", {}).get(BODY_TOO_LARGE):
        return _too_large(request)
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw_length)
    except ValueError:
        return error_response(
            request, HTTPStatus.BAD_REQUEST, "Invalid Content-Length", code="bad_request"
        )
    if length > settings.MAX_REQUEST_BODY_BYTES:
        return _too_large(request)
    has_body = length > 0 or "HTTP_TRANSFER_ENCODING" in request.META
    if request.path.startswith(API_PATH_PREFIX) and request.method in BODY_METHODS and has_body:
        media_type = request.content_type or ""
        if not (media_type in API_MEDIA_TYPES or media_type.endswith("+json")):
            return error_response(
                request,
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "Send the request body as application/json",
                code="unsupported_media_type",
            )
    if _has_nul(request):
        return error_response(
            request,
            HTTPStatus.BAD_REQUEST,
            "NUL characters are not allowed in the path, query or body",
            code="bad_request",
        )
    return None


def _is_envelope(response: HttpResponseBase) -> bool:
    return bool(getattr(response, "error_envelope", False))


def as_envelope(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Replace a non-envelope error response by the envelope, keeping its meaningful headers.

    A JSON body (a view's own error report, such as readiness) is kept as ``details``;
    anything else (HTML debug pages, plain text) is dropped so no trace leaks.
    """
    if response.status_code < 400 or _is_envelope(response) or response.streaming:
        return response
    details: Any = None
    if response.get("Content-Type", "").startswith("application/json"):
        try:
            details = json.loads(response.content)  # type: ignore[attr-defined]
        except ValueError:
            details = None
    envelope = error_response(
        request,
        response.status_code,
        status_message(response.status_code),
        code=status_error_code(response.status_code),
        details=details,
    )
    for name, value in response.items():
        if name.lower() not in _REPLACED_HEADERS:
            envelope[name] = value
    envelope.cookies = response.cookies
    return envelope


class ErrorEnvelopeMiddleware(AsyncNativeMiddleware):
    """Rejects bodies the API will not read, and turns every other error into the envelope."""

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        # Ninja maps domain errors itself; this covers plain Django views (a 429 from
        # enforce_rate_limit there must not become a 500). Django runs exception
        # middleware only when a view raised.
        if isinstance(exception, MusicbudError):
            return domain_error_response(request, exception)
        return service_outage_response(request, exception)

    def call(self, request: HttpRequest) -> HttpResponseBase:
        rejected = _reject_body(request)
        if rejected is not None:
            return rejected
        return as_envelope(request, self.get_response(request))  # type: ignore[arg-type]

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        rejected = _reject_body(request)
        if rejected is not None:
            return rejected
        return as_envelope(request, await self.get_response(request))  # type: ignore[misc]


def _count_unhandled(sender: object, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None:
        metrics.unhandled_error(route=route_template(request), method=request.method or "")


# Django sends this signal for every exception that becomes a 500, on sync and async paths.
got_request_exception.connect(_count_unhandled, dispatch_uid="musicbud-unhandled-errors")
