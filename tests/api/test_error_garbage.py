"""An answered error leaves no reference cycle: its exception lets go of its traceback, whose
frames (asgiref's hop among them) hold the exception, the request and its response — each
404 or 422 would otherwise wait, with all of them, for the cycle collector."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from http import HTTPStatus
from types import FrameType, TracebackType

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from fastpath.handler import HopFreeASGIHandler
from tests.api.test_hot_paths import bearer_headers
from tests.fixtures.asgi import asgi_request

pytestmark = pytest.mark.django_db(transaction=True)
UNKNOWN_UID = "0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.fixture
async def app() -> AsyncIterator[HopFreeASGIHandler]:
    handler = HopFreeASGIHandler()
    yield handler
    await handler.aclose()
    await sync_to_async(connections.close_all, thread_sensitive=True)()


@pytest.mark.parametrize(
    ("path", "method", "body", "status", "code"),
    [
        # Django's handler404, in the hop Django makes for it.
        ("/api/v1/no-such-route", "GET", b"", HTTPStatus.NOT_FOUND, "not_found"),
        # Ninja's validation (pydantic's errors held by Ninja's frame).
        ("/api/v1/auth/login", "POST", b"{}", HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
        # A domain error raised in a thread (asgiref's future holds it).
        ("/api/v1/users/nobody-here", "GET", b"", HTTPStatus.NOT_FOUND, "user_not_found"),
        # The legacy layer's answer to a view's exception.
        (f"/v1/users/{UNKNOWN_UID}", "GET", b"", HTTPStatus.NOT_FOUND, "user_not_found"),
    ],
)
async def test_an_answered_error_is_freed_without_the_garbage_collector(
    app: HopFreeASGIHandler, path: str, method: str, body: bytes, status: int, code: str
) -> None:
    headers = [("content-type", "application/json"), *(await bearer_headers(app))]
    first = await asgi_request(app, path, method=method, headers=headers, body=body)
    assert (first.status, first.json()["code"]) == (status, code)  # and first-use work done
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            answer = await asgi_request(app, path, method=method, headers=headers, body=body)
            assert answer.status == status
        gc.collect()
        # type(), not isinstance(): the garbage may hold lazy objects, which isinstance reads.
        kinds = [type(obj) for obj in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    kept = (BaseException, FrameType, TracebackType, HttpRequest, HttpResponseBase)
    assert [kind.__name__ for kind in kinds if issubclass(kind, kept)] == []
