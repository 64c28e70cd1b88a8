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
        # Request bodies, cookies and headers that identify users stay out of events.
        send_default_pii=False,
        transport=transport,
    )
