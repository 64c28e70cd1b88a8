"""The project's URLs plus views that exercise the ASGI handler (tests only)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.db import connection
from django.http import FileResponse, HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from musicbud.models import User


class ClosableChunks:
    """An async iterable with close(): Django registers it as one of the response's closers."""

    instances: list[ClosableChunks] = []

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = 0
        ClosableChunks.instances.append(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    def close(self) -> None:
        self.closed += 1


opened_files: list[Any] = []


def _count_users() -> dict[str, int]:
    count = User.objects.count()
    # Which thread and which DB connection served the query: the tests check reuse.
    return {
        "users": count,
        "thread": threading.get_ident(),
        "connection": id(connection.connection),
    }


async def db_view(request: HttpRequest) -> JsonResponse:
    # One hop, as the project's views do when they need the ORM.
    return JsonResponse(await sync_to_async(_count_users, thread_sensitive=True)())


async def loop_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"thread": threading.get_ident()})


async def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(ClosableChunks([b"one,", b"two"]))


async def file_view(request: HttpRequest) -> FileResponse:
    # The response owns the file and closes it (the point of the test); tiny, local.
    handle = Path(__file__).open("rb")  # noqa: ASYNC230, SIM115
    opened_files.append(handle)
    return FileResponse(handle, content_type="text/plain")


async def session_write_view(request: HttpRequest) -> JsonResponse:
    await request.session.aset("seen", True)
    return JsonResponse({"ok": True})


async def message_view(request: HttpRequest) -> JsonResponse:
    messages.info(request, "saved")
    return JsonResponse({"ok": True})


async def message_read_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"messages": [m.message for m in messages.get_messages(request)]})


async def form_view(request: HttpRequest) -> JsonResponse:
    # Not csrf_exempt: an unsafe request needs a CSRF token, as the admin's forms do.
    return JsonResponse({"ok": True})


async def big_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"items": [{"n": n, "name": f"item {n}"} for n in range(500)]})


# The slow view's thread says it started, waits for the test, then reads the request it was
# given and says it is done.
slow_started = threading.Event()
slow_release = threading.Event()
slow_done = threading.Event()
slow_reads: list[str] = []


def _read_request_later(request: HttpRequest) -> None:
    slow_started.set()
    slow_release.wait(10)
    try:
        slow_reads.append(f"{request.method} {request.path} user={request.user.is_authenticated}")
    finally:
        slow_done.set()


async def slow_thread_view(request: HttpRequest) -> JsonResponse:
    await sync_to_async(_read_request_later, thread_sensitive=False)(request)
    return JsonResponse({"ok": True})


urlpatterns = [
    *project_urlpatterns,
    path("asgi-test/db", db_view, name="asgi-test-db"),
    path("asgi-test/loop", loop_view, name="asgi-test-loop"),
    path("asgi-test/stream", stream_view, name="asgi-test-stream"),
    path("asgi-test/file", file_view, name="asgi-test-file"),
    path("asgi-test/session", session_write_view, name="asgi-test-session"),
    path("asgi-test/message", message_view, name="asgi-test-message"),
    path("asgi-test/form", form_view, name="asgi-test-form"),
    path("asgi-test/message/read", message_read_view, name="asgi-test-message-read"),
    path("asgi-test/big", big_view, name="asgi-test-big"),
    path("asgi-test/slow-thread", slow_thread_view, name="asgi-test-slow-thread"),
]
