"""Every answer of every operation in the OpenAPI document: routers declare their successes,
``DocumentedNinjaAPI`` derives the errors from each operation's entry (api/README.md)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from api.error_codes import ERROR_CODES

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


class DocumentedNinjaAPI(NinjaAPI):
    """A NinjaAPI whose OpenAPI document lists every answer of every operation."""

    def get_openapi_schema(
        self,
        *,
        path_prefix: str | None = None,
        path_params: dict[str, Any] | None = None,
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_every_answer(schema)
        return schema
