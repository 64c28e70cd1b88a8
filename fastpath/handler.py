"""Django's ASGI handler without the per-request thread hop (follows Django 5.2's
``django/core/handlers/asgi.py``; the design is in config/PERFORMANCE.md)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver, set_script_prefix, set_urlconf
from django.urls.resolvers import ResolverMatch

P = ParamSpec("P")
T = TypeVar("T")

# Set in a request's scope when its body outgrew MAX_REQUEST_BODY_BYTES while being read (a
# chunked body declares no length); the project's envelope middleware answers it with a 413.
BODY_TOO_LARGE = "musicbud.body_too_large"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

# Django's own request_started / request_finished receivers. On the event loop they are
# no-ops or CPU-only: the loop thread never holds a DB connection (Django refuses to open
# one there), so close_old_connections and reset_queries find nothing; reset_urlconf
# clears a context variable; close_caches only disconnects django-redis when
# DJANGO_REDIS_CLOSE_CONNECTION is set (a socket close, no round trip).
_loop_safe_receivers: set[Callable[..., Any]] = {
    close_old_connections,
    reset_queries,
    reset_urlconf,
    close_caches,
}
# The thread-bound ones among them: on the loop there is nothing for them to do, so the
# handler skips them there (and runs them in a request's thread when it borrows one).
_THREAD_BOUND_RECEIVERS: frozenset[Callable[..., Any]] = frozenset(
    {close_old_connections, reset_queries}
)


def register_loop_safe_receiver(receiver: Callable[..., Any]) -> None:
    """Declare a sync request_started/request_finished receiver safe to call on the loop.

    Only for receivers that do no blocking I/O and touch no thread-bound state. Any other
    sync receiver makes the handler send the signal the stock way (in the request's thread).
    """
    _loop_safe_receivers.add(receiver)


def unregister_loop_safe_receiver(receiver: Callable[..., Any]) -> None:
    _loop_safe_receivers.discard(receiver)


def loop_receivers(signal: Signal, sender: type) -> list[Callable[..., Any]] | None:
    """The receivers of ``signal`` to call on the loop, or None if it needs a thread.

    None when a sync receiver is not loop-safe, or when there is an async receiver:
    ``Signal.send`` runs those through ``async_to_sync``, which cannot be called from the
    loop's own thread. ``Signal._live_receivers`` is what ``send``/``asend`` use to split
    sync from async receivers (Django 5.0+); there is no public equivalent.
    """
    sync_receivers, async_receivers = signal._live_receivers(sender)
    if async_receivers or not all(r in _loop_safe_receivers for r in sync_receivers):
        return None
    return [r for r in sync_receivers if r not in _THREAD_BOUND_RECEIVERS]


# Successful URL resolutions kept per resolver (so per URLconf, and dropped with Django's URL
# caches: a changed ROOT_URLCONF or urlconf module gives a new resolver). Bounded; a 404 is
# never kept, so random paths cannot fill it.
RESOLVED_PATHS_MAX = 2048
_RESOLVED_ATTRIBUTE = "_fastpath_resolved"


def resolve_path(resolver: URLResolver, path: str) -> ResolverMatch:
    """``resolver.resolve(path)``, remembered per path: a match is a pure function of the
    resolver and the path. Each request gets its own copy (its ``args`` and ``kwargs`` too),
    so nothing a request does to its match reaches another's."""
    memo: OrderedDict[str, ResolverMatch] | None = resolver.__dict__.get(_RESOLVED_ATTRIBUTE)
    if memo is None:
        memo = resolver.__dict__.setdefault(_RESOLVED_ATTRIBUTE, OrderedDict())
    match = memo.get(path)
    if match is None:
        match = resolver.resolve(path)  # Resolver404 propagates, and is not kept
        memo[path] = match
        if len(memo) > RESOLVED_PATHS_MAX:
            with contextlib.suppress(KeyError):  # another thread's loop evicted it first
                memo.popitem(last=False)
    # ResolverMatch refuses copy.copy (it may not be pickled): a new one with its attributes.
    fresh = ResolverMatch.__new__(ResolverMatch)
    fresh.__dict__.update(match.__dict__)
    fresh.args = tuple(match.args)
    fresh.kwargs = dict(match.kwargs)
    return fresh


def _start_request_in_thread() -> None:
    # What request_started's DB receivers do under WSGI, in the thread the request's sync
    # code will use: a pooled thread may hold a connection past CONN_MAX_AGE or a broken one.
    reset_queries()
    close_old_connections()


class RequestThreadPool:
    """Single-thread executors lent to one request at a time, kept between requests.

    Keeping the threads lets a connection opened by one request be reused by a later one, as
    ``CONN_MAX_AGE`` asks; a thread retired from the pool closes its connections first.
    """

    def __init__(self, *, max_idle: int) -> None:
        self.max_idle = max_idle
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self._closed = False
        self.created = 0

    def borrow(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.created += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-request")

    def give_back(self, worker: ThreadPoolExecutor) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.max_idle:
                self._idle.append(worker)
                return
        self._retire(worker)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @staticmethod
    def _retire(worker: ThreadPoolExecutor) -> Future[None]:
        # Connections are thread-bound: only this thread can close the ones it holds.
        closed = worker.submit(connections.close_all)
        worker.shutdown(wait=False)
        return closed

    async def close(self) -> None:
        """Retire every idle thread, closing its connections (ASGI lifespan shutdown)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            await asyncio.wrap_future(self._retire(worker))


class RequestExecutor(Executor):
    """One request's thread-sensitive executor: borrows a pooled thread on first use."""

    def __init__(self, pool: RequestThreadPool) -> None:
        self._pool = pool
        self._worker: ThreadPoolExecutor | None = None

    @property
    def used(self) -> bool:
        """Whether any thread-sensitive ``sync_to_async`` call ran during this request."""
        return self._worker is not None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._worker is None:
            self._worker = self._pool.borrow()
            # Queued ahead of the request's first call on the same single thread.
            self._worker.submit(_start_request_in_thread)
        return self._worker.submit(fn, *args, **kwargs)

    def release(self) -> None:
        if self._worker is not None:
            self._pool.give_back(self._worker)
            self._worker = None

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.release()


class HopFreeASGIHandler(ASGIHandler):
    """Django's ASGIHandler, minus the thread hop for requests that never leave the loop.

    Django's DB connections belong to the thread that opened them, so the stock handler sends
    ``request_started`` and closes every response through ``sync_to_async`` in the request's
    own thread. This one lends a request a pooled thread only when its code makes a
    thread-sensitive ``sync_to_async`` call, and runs the end-of-request work in that thread
    only then; a request that never left the event loop finishes on the loop with no hop."""

    # Idle request threads kept for reuse; more concurrent hopping requests than this get
    # a thread that is retired when they finish.
    max_idle_threads = 32

    def __init__(self) -> None:
        super().__init__()
        self.thread_pool = RequestThreadPool(max_idle=self.max_idle_threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = RequestExecutor(self.thread_pool)
        try:
            # The context routes this request's thread-sensitive calls to its executor (the
            # stock handler's ThreadSensitiveContext() makes a new thread per request).
            async with ThreadSensitiveContext(executor=executor):
                await self.serve_http(scope, receive, send, executor)
        finally:
            executor.release()

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """Django's ``BaseHandler.resolve_request`` (``django/core/handlers/base.py``), with the
        path's match remembered (``resolve_path``): resolving walks the URL patterns in order,
        one regular expression each, and the API's are many."""
        if hasattr(request, "urlconf"):
            urlconf = request.urlconf
            set_urlconf(urlconf)
            resolver = get_resolver(urlconf)
        else:
            resolver = get_resolver()
        resolver_match = resolve_path(resolver, request.path_info)
        request.resolver_match = resolver_match
        return resolver_match

    async def aclose(self) -> None:
        """Retire the request threads, each closing its own connections (run it at shutdown,
        before the database pool closes)."""
        await self.thread_pool.close()

    async def send_signal(self, signal: Signal, executor: RequestExecutor, **named: Any) -> None:
        """Send a request signal on the loop when that is equivalent, else the stock way."""
        sender = self.__class__
        receivers = None if executor.used else loop_receivers(signal, sender)
        if receivers is None:
            # asend runs sync receivers via sync_to_async: in this request's thread.
            await signal.asend(sender=sender, **named)
            return
        for receiver in receivers:  # as Signal.send calls them
            receiver(signal=signal, sender=sender, **named)

    async def close_response(self, response: HttpResponseBase, executor: RequestExecutor) -> None:
        """``response.close()``: closes its resources, then sends request_finished."""
        if executor.used or loop_receivers(signals.request_finished, self.__class__) is None:
            # The request ran sync code in its thread (it may hold connections there), or a
            # receiver needs a thread: close exactly as the stock handler does.
            await sync_to_async(response.close, thread_sensitive=True)()
            return
        response.close()

    async def read_bounded_body(self, receive: Receive, *, path: str = "") -> tuple[Any, bool]:
        """Django's ``read_body``, keeping at most ``MAX_REQUEST_BODY_BYTES`` (an upload
        path's own limit in ``UPLOAD_BODY_LIMITS``).

        The rest of an oversized body is drained and dropped, not spooled to disk (Django
        would read it all, then refuse it with a bare 400): returns the file and whether
        the body was too large.
        """
        limit: int = settings.UPLOAD_BODY_LIMITS.get(path, settings.MAX_REQUEST_BODY_BYTES)
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the request owns it
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file, size > limit

    async def listen_for_disconnect(self, receive: Receive) -> None:
        """Django's, but a disconnect ends the listener instead of raising ``RequestAborted``
        (every request ends with one): an exception's traceback keeps the request's frames,
        and through them the whole request, alive until the garbage collector runs."""
        message = await receive()
        if message["type"] != "http.disconnect":
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")

    # A copy of Django 5.2's ASGIHandler.handle; the changes are marked "hop-free".
    async def serve_http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        executor: RequestExecutor,
    ) -> None:
        try:
            # hop-free (0): a body is kept up to MAX_REQUEST_BODY_BYTES only.
            body_file, too_large = await self.read_bounded_body(receive, path=scope.get("path", ""))
        except RequestAborted:
            return
        if too_large:
            scope = {**scope, BODY_TOO_LARGE: True}
        set_script_prefix(get_script_prefix(scope))
        # hop-free (1): request_started on the loop unless a receiver needs a thread.
        await self.send_signal(signals.request_started, executor, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            if error_response is not None:  # create_request returns one of the two
                await self.send_response(error_response, send)
                # hop-free (2): the error response is closed like any other.
                await self.close_response(error_response, executor)
            return

        async def process_request(request: HttpRequest, send: Send) -> HttpResponseBase:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # client left during the send
                await self.send_response(response, send)
            return response

        # The disconnect listener goes first, as in Django: it must not raise in a way that
        # keeps the request task from being cancelled.
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        serving = asyncio.create_task(process_request(request, send))
        tasks: list[asyncio.Task[Any]] = [listening, serving]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                # hop-free (4): a finished task's error is looked at, not re-raised here: a
                # re-raised error's traceback would hold this frame, and with it the tasks
                # that hold the error, in a reference cycle only the collector frees.
                error = None if task.cancelled() else task.exception()
                if error is not None and not isinstance(error, RequestAborted):
                    body_file.close()
                    raise error
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        if serving.cancelled():
            await self.send_signal(signals.request_finished, executor)
        else:
            # hop-free (3): close in the request's thread only if it has one.
            await self.close_response(serving.result(), executor)
            # hop-free (5): the request is over. Its attributes include closures over the
            # request itself (the lazy user, messages and CSP nonce), cycles that only the
            # garbage collector would free, after they had been promoted past its young
            # generations; dropping them frees the whole request now, by reference counting.
            # (A request cancelled before its answer keeps them: a call it started in a thread
            # may still be running, and reading it. One cancelled while its answer is sent has
            # only that answer's own iterator left, which the views here give no request.)
            request.__dict__.clear()

        body_file.close()
