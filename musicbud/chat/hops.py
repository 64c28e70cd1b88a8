"""The one thread hop of a chat service, with Django's connection hygiene around it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def _close_stale_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def chat_hop(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``func`` as one thread-sensitive ``sync_to_async`` call with fresh connections.

    Chat services run inside HTTP requests (where Django closes connections when the request
    finishes) and inside WebSocket consumers, which live for hours and finish no request:
    there a hop's connection would stay open, or broken, for the life of the socket. So each
    hop drops connections that are obsolete or broken before and after it runs, as Django
    does around a request. A connection inside an atomic block (a test's transaction) is left
    alone."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        _close_stale_connections()
        try:
            return func(*args, **kwargs)
        finally:
            _close_stale_connections()

    return sync_to_async(run, thread_sensitive=True)
