"""The cached-read lane (no framework copied): a warm cached read answered at the ASGI level,
without Django's request, response or middleware chain, with the bytes the full path answers.

A route's *planner* (the project's, ``api.cached_answers``) does the read's checks and its one
Redis round trip; it answers None when anything is not the plain warm case, having counted and
changed nothing, and the request goes down the full path as if the lane were not there. When
the planner counted the request, the lane answers it from the *template* the full path gave
for the same request shape and the same stored answer: status, headers (the request's own
values in the dynamic ones) and body. A shape it has not seen yet goes down the full path once
with the planner's handoff in its scope (the counted state and the values read, so nothing is
counted or read twice), and that answer, captured as it is sent, becomes the template.

Why this gives the full path's bytes: a template is keyed by everything the full path's answer
may depend on besides the values the lane substitutes — the path, query string, scheme, every
request header but the token and the request id, and the stored bytes of the answer — and a
planner is declared only for an operation whose answer is a function of those (a cached
answer). GZip's random filename bytes (Django's BREACH mitigation) are drawn anew per answer
by Django's own ``compress_string``, as the middleware does.
"""

from __future__ import annotations

import contextlib
import gzip
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core import signals
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.gzip import GZipMiddleware, re_accepts_gzip
from django.utils.text import compress_string

from fastpath.handler import Receive, Scope, Send, loop_receivers

# Request headers that never reach a template's key: the planner reads them itself.
TOKEN_HEADER = b"authorization"
REQUEST_ID_HEADER = b"x-request-id"
_UNKEYED = frozenset({TOKEN_HEADER, REQUEST_ID_HEADER})
CONTENT_LENGTH = b"content-length"
CONTENT_ENCODING = b"content-encoding"
# A response header whose value is the request's own: filled per answer.
_DYNAMIC: Any = object()
TEMPLATES_MAX = 512


@dataclass(slots=True)
class Counted:
    """A request its planner checked, counted and read for.

    ``answer``: the stored bytes of the values read (they identify the answer);
    ``headers``: the response headers whose values are this request's own (request id,
    rate-limit state), lower-case names; ``handoff``: what the full path's scope gets when the
    lane has no template yet; ``finish(status, seconds)``: the request's metrics and access
    log when the lane answers it itself (the full path does its own)."""

    answer: tuple[Any, ...]
    headers: dict[bytes, bytes]
    handoff: dict[str, Any]
    begin: Callable[[], None]
    finish: Callable[[int, float], None]
    started: float = field(default_factory=time.perf_counter)


Planner = Callable[[Scope], Awaitable[Counted | None]]


@dataclass(frozen=True, slots=True)
class Template:
    status: int
    # (name, value) or (name, _DYNAMIC) for the request's own values and the length.
    headers: tuple[tuple[bytes, Any], ...]
    body: bytes  # uncompressed when ``gzipped``
    gzipped: bool


_templates: OrderedDict[tuple[Any, ...], Template] = OrderedDict()


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    # Any setting may change an answer's headers (CORS, CSP, rate limits): learn them again.
    forget_templates()


def forget_templates() -> None:
    _templates.clear()
    _passing.clear()


# Request shapes (the template key without the answer) the full path has answered with a 200:
# the middleware let them through to the view. Only for those does the lane count a request
# (the planner): a shape the middleware would refuse or redirect (a disallowed Host, plain
# HTTP under SECURE_SSL_REDIRECT) must not be counted, as the full path never counts it.
_passing: OrderedDict[tuple[Any, ...], None] = OrderedDict()


def _base_shape(scope: Scope) -> tuple[Any, ...]:
    return (
        scope["path"],
        scope.get("query_string", b""),
        scope.get("scheme", "http"),
        tuple(header for header in scope["headers"] if header[0] not in _UNKEYED),
    )


def _remember(table: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    table[key] = value
    if len(table) > TEMPLATES_MAX:
        with contextlib.suppress(KeyError):
            table.popitem(last=False)


def _learn(
    messages: list[Mapping[str, Any]], dynamic: Mapping[bytes, bytes], scope: Scope
) -> Template | None:
    """The template of a captured 200 answer; None for anything else (not kept).

    GZip compresses a body of 200 bytes or more for a client that accepts it, unless the
    compressed body (with its 0-100 random bytes) is not shorter: a draw, for a body near the
    limit. So an answer GZip left uncompressed for such a client (its ``Vary`` names
    Accept-Encoding) is not learned — a later, compressed one is, and the lane then draws as
    GZip does (``_answer``). A compressed answer with an ETag is not learned either (GZip weakens
    a strong one only when it compresses)."""
    if not messages or messages[0].get("type") != "http.response.start":
        return None
    start = messages[0]
    if start.get("status") != 200 or start.get("trailers"):
        return None
    body = b"".join(m.get("body", b"") for m in messages[1:] if m["type"] == "http.response.body")
    if messages[-1].get("type") != "http.response.body" or messages[-1].get("more_body"):
        return None
    headers: list[tuple[bytes, Any]] = []
    gzipped = etag = varies_by_encoding = False
    for name, value in start.get("headers", ()):
        lowered = bytes(name).lower()
        if lowered == b"set-cookie":
            return None  # a per-response value the lane would not reproduce
        etag = etag or lowered == b"etag"
        if lowered == b"vary":
            varies = {part.strip().lower() for part in bytes(value).split(b",")}
            # "*" (patch_vary_headers collapses to it) varies by Accept-Encoding too.
            varies_by_encoding = varies_by_encoding or bool({b"accept-encoding", b"*"} & varies)
        if lowered == CONTENT_ENCODING:
            if bytes(value) != b"gzip":
                return None
            gzipped = True
        if lowered in dynamic or lowered == CONTENT_LENGTH:
            headers.append((bytes(name), _DYNAMIC))
        else:
            headers.append((bytes(name), bytes(value)))
    if gzipped and etag:
        return None
    if not gzipped and varies_by_encoding and _accepts_gzip(scope):
        return None  # GZip's draw left it uncompressed: learn from a compressed one
    if gzipped:
        body = gzip.decompress(body)
    return Template(status=200, headers=tuple(headers), body=body, gzipped=gzipped)


def _accepts_gzip(scope: Scope) -> bool:
    # As GZipMiddleware reads it: Django joins a repeated header's values with commas.
    accepted = b",".join(value for name, value in scope["headers"] if name == b"accept-encoding")
    return bool(re_accepts_gzip.search(accepted.decode("latin-1")))


class CachedReadLane:
    """ASGI: ``planners`` (path -> planner, read at first use) answer their warm reads here;
    everything else goes to ``app``. ``handler_class``: the sender of Django's request
    signals, whose receivers the lane calls as the hop-free handler would on the loop (a
    receiver that needs a thread sends every request down the full path)."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        planners: Callable[[], Mapping[str, Planner]],
        *,
        handler_class: type,
    ) -> None:
        self.app = app
        self._planners_factory = planners
        self._planners: Mapping[str, Planner] | None = None
        self.handler_class = handler_class

    def __getattr__(self, name: str) -> Any:
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)  # aclose, thread_pool: the handler's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if self._planners is None:
            self._planners = self._planners_factory()
        planner = self._planners.get(scope["path"])
        started = loop_receivers(signals.request_started, self.handler_class)
        finished = loop_receivers(signals.request_finished, self.handler_class)
        if planner is None or started is None or finished is None:
            await self.app(scope, receive, send)
            return
        base = _base_shape(scope)
        if base not in _passing:  # not known to reach the view: the full path, observed
            if await self._status_of_full_path(scope, receive, send) == 200:
                _remember(_passing, base, None)
            return
        counted = await planner(scope)
        if counted is None:  # nothing counted: the full path answers as without the lane
            await self.app(scope, receive, send)
            return
        shape = (*base, counted.answer)
        template = _templates.get(shape)
        if template is None:
            await self._learn_from_full_path(scope, receive, send, counted, shape)
            return
        for started_receiver in started:
            started_receiver(signal=signals.request_started, sender=self.handler_class, scope=scope)
        status = template.status
        counted.begin()
        try:
            await self._answer(template, counted.headers, send)
        finally:
            counted.finish(status, time.perf_counter() - counted.started)
            for finished_receiver in finished:
                finished_receiver(signal=signals.request_finished, sender=self.handler_class)

    @staticmethod
    async def _answer(template: Template, own: Mapping[bytes, bytes], send: Send) -> None:
        body = template.body
        template_headers = template.headers
        if template.gzipped:
            compressed = compress_string(body, max_random_bytes=GZipMiddleware.max_random_bytes)
            if len(compressed) < len(body):
                body = compressed
            else:  # as GZip: the body as it is when compressing does not shorten it
                template_headers = tuple(
                    header for header in template_headers if header[0].lower() != CONTENT_ENCODING
                )
        headers = [
            (
                name,
                value
                if value is not _DYNAMIC
                else str(len(body)).encode()
                if name.lower() == CONTENT_LENGTH
                else own[name.lower()],
            )
            for name, value in template_headers
        ]
        await send({"type": "http.response.start", "status": template.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _status_of_full_path(self, scope: Scope, receive: Receive, send: Send) -> int:
        status = 0

        async def observing_send(message: Mapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, observing_send)
        return status

    async def _learn_from_full_path(
        self, scope: Scope, receive: Receive, send: Send, counted: Counted, shape: tuple[Any, ...]
    ) -> None:
        messages: list[Mapping[str, Any]] = []

        async def capturing_send(message: Mapping[str, Any]) -> None:
            messages.append(message)
            await send(message)

        await self.app({**scope, **counted.handoff}, receive, capturing_send)
        template = _learn(messages, counted.headers, scope)
        if template is not None:
            _remember(_templates, shape, template)
