"""The one error envelope: every error response is built here."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from musicbud.errors import AuthenticationFailed, MusicbudError


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
        "request_id": getattr(request, "request_id", None),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if code is not None:
        body["code"] = code
    if details is not None:
        body["details"] = details
    return JsonResponse(body, status=status_code)


def install_exception_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(MusicbudError)
    def _domain(request: HttpRequest, exc: MusicbudError) -> JsonResponse:
        response = error_response(
            request, exc.status_code, exc.message, code=exc.code, details=exc.details
        )
        if isinstance(exc, AuthenticationFailed):
            response["WWW-Authenticate"] = exc.www_authenticate
        return response

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
        return error_response(request, exc.status_code, str(exc))
