"""ASGI entry point served by gunicorn's uvicorn workers in production (and by runserver).

With ``FAST_PATH`` on (the default) HTTP goes through ``fastpath.handler``'s hop-free
handler; off, through Django's stock ``ASGIHandler``. Either way ``LifespanApp`` answers the
ASGI lifespan protocol (start-up checks and warm-ups, clean shutdown). WebSockets go to the
chat application (Django Channels).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter  # noqa: E402 - needs django.setup() first
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from api.chat.routing import websocket_application  # noqa: E402
from config.lifespan import LifespanApp  # noqa: E402


def build_application() -> LifespanApp:
    """The project's HTTP + lifespan application for the current settings."""
    if settings.FAST_PATH:
        from fastpath.handler import HopFreeASGIHandler

        handler = HopFreeASGIHandler()
        return LifespanApp(handler, before_shutdown=[handler.aclose])
    return LifespanApp(ASGIHandler())


http_application = build_application()

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "lifespan": http_application,
        "websocket": websocket_application,
    }
)
