"""Per-request context: the request id (a contextvar, so every log line carries it) and the
client address."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import sys
import uuid
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's id only when it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
UNKNOWN_CLIENT = "unknown"

# Each ASGI request runs in its own task (its own context copy), and asgiref copies the
# context into sync_to_async threads, so concurrent requests never see each other's id.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def sentry_active() -> bool:
    """Whether the Sentry SDK is set up and on (config.sentry, with SENTRY_DSN).

    Read from ``sys.modules``: a worker without Sentry never loads the SDK (~5 MB) to learn
    that it is off."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    return sentry_sdk is not None and bool(sentry_sdk.get_client().is_active())


def sentry_request_tag(request_id: str) -> None:
    """With Sentry on, tag the request's scope with its id, so an error reported while it is
    answered names it (each request has its own isolation scope:
    ``config.sentry.with_request_scopes``). The full path and the cached-read lane both call
    this."""
    if sentry_active():
        sys.modules["sentry_sdk"].get_isolation_scope().set_tag("request_id", request_id)


def request_id_from_header(value: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, otherwise a fresh UUID4."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def current_request_id() -> str | None:
    return request_id_var.get()


@functools.lru_cache(maxsize=1024)  # a client's address repeats on each of its requests
def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or X-Forwarded-For behind trusted proxies.

    With ``TRUSTED_PROXY_COUNT = n`` each of our n proxies appended the address it saw, so the
    client is the n-th entry from the right; anything further left is client-supplied and
    can be forged. With 0 the header is ignored.
    """
    return client_ip_of(
        remote_addr=request.META.get("REMOTE_ADDR") or "",
        forwarded=request.META.get("HTTP_X_FORWARDED_FOR", ""),
    )


def client_ip_of(*, remote_addr: str, forwarded: str) -> str:
    """``client_ip`` from the connection's address and the X-Forwarded-For header's value."""
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [hop for hop in (part.strip() for part in forwarded.split(",")) if hop]
        if len(hops) >= proxies:
            address = _valid_ip(hops[-proxies])
            if address is not None:
                return address
    return _valid_ip(remote_addr) or UNKNOWN_CLIENT


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record logged while a request is being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            # Django logs 4xx/5xx responses after the middleware chain has returned, with
            # the request attached; its id is on it.
            request = getattr(record, "request", None)
            record.request_id = request_id_var.get() or getattr(request, "request_id", None)
        return True
