"""The WebSocket application: ``/ws/chat/`` to the chat consumer, anything else closed 4404.

Sessions are read lazily: a socket opened with a ticket never touches the session store.
"""

from __future__ import annotations

from channels.routing import URLRouter
from channels.sessions import SessionMiddlewareStack
from django.urls import path, re_path

from api.chat.consumer import ChatConsumer, UnknownPathConsumer

websocket_application = SessionMiddlewareStack(
    URLRouter(
        [
            path("ws/chat/", ChatConsumer.as_asgi(), name="ws-chat"),
            re_path(r"", UnknownPathConsumer.as_asgi()),
        ]
    )
)
