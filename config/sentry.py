"""Error tracking: sentry-sdk with the Django integration, started only when SENTRY_DSN is set."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from django.core.signals import request_finished, request_started
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.integrations.threading import ThreadingIntegration

from config.lifespan import ASGIApp


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str,
    traces_sample_rate: float,
    transport: Any = None,
) -> None:
    """Start the SDK. ``api.middleware`` tags each event with the request id."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # 0.0 turns tracing off altogether (None): at 0.0 the SDK would still make an unsampled
        # transaction per request and honour a caller's sampled trace header.
        traces_sample_rate=traces_sample_rate or None,
        integrations=[
            # The request signals' receivers stay Django's own: wrapped in the SDK's span
            # makers, the hop-free handler cannot tell they are loop-safe and sends both
            # signals through a thread on every request.
            DjangoIntegration(signals_denylist=[request_started, request_finished]),
            # asgiref already carries the context into the threads it runs code in; copying
            # the scope into every new thread kept the request it started under alive.
            ThreadingIntegration(propagate_scope=False),
        ],
        # No user identity, no request bodies and no frame locals (a login's locals hold the
        # password, a refresh's the token: the denylist only knows exact key names) in
        # events; headers and cookies go through the SDK's denylist scrubber.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        include_local_variables=False,
        transport=transport,
    )
    # The access log's one line per request would be a breadcrumb per request (the SDK's
    # logging integration keeps INFO records): the event already carries its request.
    ignore_logger("musicbud.access")


def with_request_scopes(app: ASGIApp) -> ASGIApp:
    """``app`` with each HTTP request or WebSocket in its own Sentry isolation scope.

    The Django integration opens that scope by patching ``ASGIHandler.__call__``, which the
    hop-free handler overrides: without this, every request added its event processor (which
    holds the request) to the one process-wide scope — up to 21, until the SDK clears the list —
    and its request-id tag too, so an error event carried another request's tag and processors.
    Around Django's own handler the integration's scope is already open and the middleware
    passes straight through (it does not nest), as it does for lifespan messages.
    """
    # mechanism_type names the integration on captured errors (left at "asgi", the SDK also
    # warns wherever Starlette is installed, as in the development environment).
    middleware: ASGIApp = SentryAsgiMiddleware(
        app, mechanism_type="django", span_origin=DjangoIntegration.origin, asgi_version=3
    )
    return middleware
