"""ASGI entry point (gunicorn's uvicorn workers, runserver): HTTP through the hop-free handler
with ``FAST_PATH`` on, Django's stock one off; lifespan by ``LifespanApp``; WebSockets to chat."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter  # noqa: E402 - needs django.setup() first
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from api.chat.routing import websocket_application  # noqa: E402
from api.request_context import sentry_active  # noqa: E402
from config.lifespan import ASGIApp, LifespanApp  # noqa: E402


def build_application() -> LifespanApp:
    """The project's HTTP + lifespan application for the current settings."""
    if settings.FAST_PATH:
        from api.cached_answers import lane_planners
        from fastpath.handler import HopFreeASGIHandler
        from fastpath.lane import CachedReadLane

        handler = HopFreeASGIHandler()
        # Warm cached reads are answered in front of the handler (fastpath.lane).
        lane = CachedReadLane(handler, lane_planners, handler_class=HopFreeASGIHandler)
        return LifespanApp(with_sentry(lane), before_shutdown=[handler.aclose])
    return LifespanApp(with_sentry(ASGIHandler()))


def with_sentry(app: ASGIApp) -> ASGIApp:
    """``app`` in a Sentry scope per request or socket when Sentry is on (config.sentry);
    else ``app`` itself."""
    if not sentry_active():
        return app
    from config.sentry import with_request_scopes

    return with_request_scopes(app)


http_application = build_application()

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "lifespan": http_application,
        "websocket": with_sentry(websocket_application),
    }
)
