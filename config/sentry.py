"""Error tracking: sentry-sdk with the Django integration, started only when SENTRY_DSN is set."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
from sentry_sdk.integrations.django import DjangoIntegration

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
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration()],
        # No user identity, no request bodies and no frame locals (a login's locals hold the
        # password, a refresh's the token: the denylist only knows exact key names) in
        # events; headers and cookies go through the SDK's denylist scrubber.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        include_local_variables=False,
        transport=transport,
    )


def with_request_scopes(app: ASGIApp) -> ASGIApp:
    """``app`` with each HTTP request in its own Sentry isolation scope.

    The Django integration opens that scope by patching ``ASGIHandler.__call__``, which the
    hop-free handler overrides: without this, every request's event processor (which holds the
    request) piled up on the one process-wide scope — the worker kept every request it ever
    served, and an error event could carry another request's URL, headers and request id.
    Around Django's own handler the integration's scope is already open and the middleware
    passes straight through (it does not nest), as it does for lifespan messages.
    """
    # mechanism_type names the integration on captured errors (left at "asgi", the SDK also
    # warns wherever Starlette is installed, as in the development environment).
    middleware = SentryAsgiMiddleware(
        app, mechanism_type="django", span_origin=DjangoIntegration.origin
    )
    scoped: ASGIApp = middleware._run_asgi3
    return scoped
