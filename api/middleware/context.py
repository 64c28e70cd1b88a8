"""The outermost middleware: request id, per-request headers, metrics, the access log."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from api import metrics
from api.middleware.base import AsyncNativeMiddleware, route_template
from api.request_context import (
    REQUEST_ID_HEADER,
    client_ip,
    request_id_from_header,
    request_id_var,
    sentry_request_tag,
)
from api.throttling import REQUEST_ATTRIBUTE, RateLimitState, request_user_id

access_logger = logging.getLogger("musicbud.access")


class RequestContextMiddleware(AsyncNativeMiddleware):
    """Outermost: request id, per-request headers, metrics and the one access-log line."""

    def _start(self, request: HttpRequest) -> tuple[Any, float]:
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        sentry_request_tag(request_id)
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
                    # A route whose path carries a secret (a compare link's token) logs its
                    # template instead.
                    "path": route if "<token>" in route else request.path,
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
