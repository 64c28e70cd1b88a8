"""Every answer of every operation in the OpenAPI document: routers declare their successes,
``DocumentedNinjaAPI`` derives the errors from each operation's entry, puts each answer
schema's example on the answer, says what the two ways to authenticate are, and builds the
document once per process (api/README.md)."""

from __future__ import annotations

import copy
import threading
from http import HTTPStatus
from typing import Any

from django.conf import settings
from ninja.openapi.schema import OpenAPISchema

from api.error_codes import ERROR_CODES
from api.errors import AnsweringNinjaAPI

ENVELOPE = "ErrorEnvelope"
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})
OPERATION_METHODS = frozenset({"get", "head", "options", *UNSAFE_METHODS})

_ENVELOPE_SCHEMA: dict[str, Any] = {
    "title": ENVELOPE,
    "description": "Every error on every URL: one JSON object.",
    "type": "object",
    "properties": {
        "error": {"type": "boolean", "const": True},
        "message": {"type": "string", "description": "For people; may change."},
        "status_code": {"type": "integer", "minimum": 400, "maximum": 599},
        "request_id": {"type": "string", "description": "The response's X-Request-ID."},
        "timestamp": {"type": "string", "format": "date-time"},
        "code": {
            "type": "string",
            "description": "For programs: each code names one condition, answered with one status.",
            "enum": sorted(ERROR_CODES),
        },
        "details": {
            "description": (
                "Validation errors: one {field, message, type} per bad field; other errors "
                "an object of their own (e.g. the permission missing)."
            ),
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
                {"type": "object"},
            ],
        },
    },
    "required": ["error", "message", "status_code", "request_id", "timestamp"],
}


def _integer_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the sane one it sent, or a new UUID); also in the "
        "error envelope and every log line of the request.",
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": _integer_header("Requests allowed in the current window."),
    "RateLimit-Remaining": _integer_header("Requests left in the current window."),
    "RateLimit-Reset": _integer_header("Seconds until the window resets."),
    "Retry-After": _integer_header("Seconds to wait before trying again."),
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (Bearer).",
        "schema": {"type": "string"},
    },
}
_RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def also_answers(*statuses: int) -> dict[str, Any]:
    """``openapi_extra`` for errors only the operation knows it can answer:
    ``@router.post("/register", ..., openapi_extra=also_answers(HTTPStatus.CONFLICT))``."""
    return {
        "responses": {
            int(status): {"description": HTTPStatus(status).phrase} for status in statuses
        }
    }


def derived_error_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from its own OpenAPI entry."""
    statuses = {HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE}
    if operation.get("security"):
        statuses.add(HTTPStatus.UNAUTHORIZED)
        if method in UNSAFE_METHODS:
            statuses.add(HTTPStatus.FORBIDDEN)
    locations = {parameter["in"] for parameter in operation.get("parameters", ())}
    if "path" in locations:
        statuses.add(HTTPStatus.NOT_FOUND)
    if locations:
        statuses |= {HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY}
    if "requestBody" in operation:
        statuses |= {
            HTTPStatus.BAD_REQUEST,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            HTTPStatus.UNPROCESSABLE_ENTITY,
        }
    return {int(status) for status in statuses}


def _headers(names: tuple[str, ...], *, required: bool) -> dict[str, Any]:
    # Inline, not $ref: a reference object cannot carry ``required`` (OpenAPI 3.1).
    return {name: {**_HEADERS[name], "required": required} for name in names}


def _response_headers(status: int) -> dict[str, Any]:
    headers = _headers(("X-Request-ID",), required=True)
    # Counted requests carry their budget; those refused before counting (a 401, a 422 of
    # the parameters) carry none, so on other errors the headers are optional.
    counted = status < HTTPStatus.BAD_REQUEST or status == HTTPStatus.TOO_MANY_REQUESTS
    headers |= _headers(_RATE_LIMIT_HEADERS, required=counted)
    if status in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
        headers |= _headers(("Retry-After",), required=True)
    if status == HTTPStatus.UNAUTHORIZED:
        headers |= _headers(("WWW-Authenticate",), required=True)
    return headers


def document_every_answer(document: dict[str, Any]) -> dict[str, Any]:
    """Add the derived errors, the envelope and the headers to every operation of
    ``document`` (an OpenAPI document as Ninja builds it), in place."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})[ENVELOPE] = _ENVELOPE_SCHEMA
    envelope = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ENVELOPE}"}}}
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in OPERATION_METHODS:
                continue
            responses: dict[Any, Any] = {
                int(status): answer for status, answer in operation.get("responses", {}).items()
            }
            for status in derived_error_statuses(method, operation):
                responses.setdefault(status, {"description": HTTPStatus(status).phrase})
            for status, answer in responses.items():
                if status >= HTTPStatus.BAD_REQUEST:
                    answer.setdefault("content", envelope)
                answer["headers"] = {**_response_headers(status), **answer.get("headers", {})}
            operation["responses"] = dict(sorted(responses.items()))
    return document


# --- examples -------------------------------------------------------------------------------


def _component(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        found: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
        return found
    return schema


def schema_example(document: dict[str, Any], schema: dict[str, Any]) -> Any | None:
    """The example an answer with ``schema`` shows: the first of its ``examples`` (an output
    schema declares them, api/README.md), a list of its items' example; None without one."""
    schema = _component(document, schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("type") == "array" and "items" in schema:
        item = schema_example(document, schema["items"])
        return None if item is None else [item]
    return None


def add_answer_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Put each success answer's schema example on the answer itself (Swagger UI shows it
    there), in place; an operation's own example (``openapi_extra``) is kept."""
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in OPERATION_METHODS:
                continue
            for status, answer in operation.get("responses", {}).items():
                if int(status) >= HTTPStatus.BAD_REQUEST:
                    continue
                for media in answer.get("content", {}).values():
                    if "example" in media or "examples" in media or "schema" not in media:
                        continue
                    example = schema_example(document, media["schema"])
                    if example is not None:
                        media["example"] = example
    return document


# --- the two ways to authenticate ----------------------------------------------------------

BEARER, SESSION, CSRF = "bearerAuth", "sessionAuth", "csrfToken"


def security_schemes() -> dict[str, dict[str, Any]]:
    """What the Authorize dialog shows: each credential, and where it comes from."""
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An access token, for apps and scripts: the `access_token` that `POST "
                "/api/v1/auth/login` (or `/auth/refresh`) answers, sent as `Authorization: "
                "Bearer <token>` (paste the token alone here). It is short-lived; refresh it "
                "with the `refresh_token`. A token that is present but invalid is a 401: it "
                "never falls back to the session."
            ),
        },
        SESSION: {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The Django session cookie, for browsers: set by `POST /api/v1/auth/login` "
                'with `"session": true` or by the admin\'s login, used when no bearer token '
                "is sent. A browser sends it by itself (the docs page, once logged in to the "
                "admin), so there is nothing to type here."
            ),
        },
        CSRF: {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRFToken",
            "description": (
                "With the session cookie only, on POST, PUT, PATCH and DELETE: the value of "
                f"the `{settings.CSRF_COOKIE_NAME}` cookie (`GET /api/v1/auth/csrf` sets it "
                "and answers it). A bearer token needs none."
            ),
        },
    }


def document_security(document: dict[str, Any]) -> dict[str, Any]:
    """Replace the auth classes' names (what Ninja puts in the document, one unexplained
    bearer field each) by the two real alternatives: a bearer token, or the session cookie
    (with the CSRF header on unsafe methods). In place."""
    used = False
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in OPERATION_METHODS or not operation.get("security"):
                continue
            session: dict[str, list[str]] = {SESSION: []}
            if method in UNSAFE_METHODS:
                session[CSRF] = []
            operation["security"] = [{BEARER: []}, session]
            used = True
    if used:
        document.setdefault("components", {})["securitySchemes"] = security_schemes()
    return document


class DocumentedNinjaAPI(AnsweringNinjaAPI):
    """A NinjaAPI whose OpenAPI document lists every answer of every operation, with the
    answers' examples and the ways to authenticate explained; built once per process (the
    routes do not change while it runs) and shared by every request that asks for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documents: dict[tuple[str | None, tuple[tuple[str, Any], ...]], OpenAPISchema] = {}
        self._documents_lock = threading.Lock()

    def get_openapi_schema(
        self,
        *,
        path_prefix: str | None = None,
        path_params: dict[str, Any] | None = None,
    ) -> OpenAPISchema:
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        with self._documents_lock:
            document = self._documents.get(key)
            if document is None:
                document = self._build_document(path_prefix=path_prefix, path_params=path_params)
                self._documents[key] = document
        return document

    def _build_document(
        self, *, path_prefix: str | None, path_params: dict[str, Any] | None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_every_answer(schema)
        add_answer_examples(schema)
        document_security(schema)
        return schema
