"""The base of the project's middleware: one class serves sync and async chains directly,
so the async path has no ``MiddlewareMixin`` ``sync_to_async`` hop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from api import metrics

SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


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
