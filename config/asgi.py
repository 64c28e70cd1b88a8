"""ASGI entry point served by gunicorn's uvicorn workers in production (and by runserver).

HTTP (and the ASGI lifespan protocol) goes to ``HopFreeASGIHandler`` (no per-request thread
hop for requests that stay on the event loop; see config/PERFORMANCE.md); WebSockets go to
the chat application (Django Channels).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

# Imports below need django.setup() first.
from channels.routing import ProtocolTypeRouter  # noqa: E402

from api.chat.routing import websocket_application  # noqa: E402
from config.asgi_handler import HopFreeASGIHandler  # noqa: E402

http_application = HopFreeASGIHandler()

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "lifespan": http_application,
        "websocket": websocket_application,
    }
)
