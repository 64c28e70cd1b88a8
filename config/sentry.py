"""Error tracking: sentry-sdk with the Django integration, started only when SENTRY_DSN is set."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration


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
