"""The error envelope at the door: bodies the APIs (v1 and legacy) will not read are refused
(413, 415, 400), and every error below is answered in the one JSON envelope."""

from __future__ import annotations

import contextlib
import json
import re
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve

from api import metrics
from api.errors import (
    bad_request,
    error_response,
    handled_exception_response,
    status_error_code,
    status_message,
)
from api.middleware.base import AsyncNativeMiddleware, route_template
from fastpath.handler import BODY_TOO_LARGE

API_PATH_PREFIX = "/api/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The API speaks JSON; multipart stays allowed for uploads.
API_MEDIA_TYPES = ("application/json", "multipart/form-data")
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Headers of a replaced error response that still describe the error.
_REPLACED_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


# A view's attribute: ``(request, response) -> response``, given the door's refusal of a
# request for that view (it never ran), to answer in its own form (the legacy layer's).
DOOR_ANSWER_ATTRIBUTE = "door_answer"


def _reject_body(request: HttpRequest) -> HttpResponseBase | None:
    """413 for a declared body over the limit, 415 for a non-JSON body sent to the API."""
    rejected = _body_rejection(request)
    if rejected is not None:
        # Rejected before URL resolution; resolve anyway so metrics and the access log
        # name the route that was refused, and the view can shape the refusal.
        door_answer = getattr(_resolved_view(request), DOOR_ANSWER_ATTRIBUTE, None)
        if door_answer is not None:
            rejected = door_answer(request, rejected)
    return rejected


def _resolved_view(request: HttpRequest) -> Any:
    """The view the request's URL resolves to (kept on the request, as Django's handler
    would set it), or None."""
    if request.resolver_match is None:
        with contextlib.suppress(Resolver404):
            request.resolver_match = resolve(request.path_info)
    return request.resolver_match.func if request.resolver_match is not None else None


def _reads_api_body(request: HttpRequest) -> bool:
    """A body one of the APIs will read: sent to ``/api/``, or to a view of another API that
    takes this door's refusals (the legacy routes at ``/`` and ``/v1/``)."""
    if request.method not in BODY_METHODS:
        return False
    if request.path.startswith(API_PATH_PREFIX):
        return True
    return hasattr(_resolved_view(request), DOOR_ANSWER_ATTRIBUTE)


# A JSON string escape of U+0000 that is not itself an escaped backslash.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def body_limit(request: HttpRequest) -> int:
    """The most bytes a request's body may have: ``MAX_REQUEST_BODY_BYTES``, or an upload
    path's own limit (``UPLOAD_BODY_LIMITS``)."""
    limit: int = settings.UPLOAD_BODY_LIMITS.get(request.path, settings.MAX_REQUEST_BODY_BYTES)
    return limit


def _streamed_upload(request: HttpRequest) -> bool:
    """A multipart body sent to an upload path: parsed from the stream (its files spooled to
    disk by Django's upload handlers), never read whole into memory."""
    return (
        request.path in settings.UPLOAD_BODY_LIMITS
        and request.content_type == "multipart/form-data"
    )


def _has_nul(request: HttpRequest) -> bool:
    """PostgreSQL text cannot hold U+0000, and no name, query or bio needs it: refuse it at
    the door rather than let it reach the database as a 500. In a body: raw or escaped in
    JSON, or in a form's fields (the legacy API reads forms; a file sent along, such as an
    uploaded zip, may hold any byte, and is never stored as text)."""
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if not _reads_api_body(request):
        return False
    if _streamed_upload(request):
        return _form_has_nul(request)
    # Read whole first: a form parsed from the stream would leave no body for the views.
    body = request.body
    if request.content_type in FORM_MEDIA_TYPES:
        return _form_has_nul(request)
    return b"\x00" in body or _JSON_NUL.search(body) is not None


def _form_has_nul(request: HttpRequest) -> bool:
    try:
        fields = request.POST
    except MultiPartParserError:
        return False  # unreadable: the view answers it as it always has
    return any(
        "\x00" in name or any("\x00" in value for value in values)
        for name, values in fields.lists()
    )


def _too_large(request: HttpRequest) -> HttpResponseBase:
    return error_response(
        request,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"Request body is larger than {body_limit(request)} bytes",
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
    if length > body_limit(request):
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
    if (
        request.path.startswith(API_PATH_PREFIX)
        and request.method in BODY_METHODS
        and has_body
        and not _streamed_upload(request)
        and len(request.body) > body_limit(request)
    ):
        # A chunked body declares no length; the fast path's handler flags it while reading
        # (above), Django's stock handler reads it whole.
        return _too_large(request)
    try:
        has_nul = _has_nul(request)
    except RequestDataTooBig as exc:
        # Over DATA_UPLOAD_MAX_MEMORY_SIZE: answered here as Django's handler400 would.
        return bad_request(request, exc)
    if has_nul:
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
        return handled_exception_response(request, exception)

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
