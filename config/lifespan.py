"""ASGI lifespan hooks: what a worker does once at start-up and once at shutdown; modules
register theirs (``on_startup`` / ``on_shutdown``) and ``LifespanApp`` runs them."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

Hook = Callable[[], Awaitable[None]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("musicbud.lifespan")

_startup_hooks: list[Hook] = []
_shutdown_hooks: list[Hook] = []


def on_startup(hook: Hook) -> Hook:
    """Register ``hook`` to run at start-up, after the ones registered before it."""
    if hook not in _startup_hooks:
        _startup_hooks.append(hook)
    return hook


def on_shutdown(hook: Hook) -> Hook:
    """Register ``hook`` to run at shutdown; shutdown hooks run in reverse registration order."""
    if hook not in _shutdown_hooks:
        _shutdown_hooks.append(hook)
    return hook


def unregister(hook: Hook) -> None:
    """Remove ``hook`` from both lists (tests, and modules that undo their set-up)."""
    for hooks in (_startup_hooks, _shutdown_hooks):
        if hook in hooks:
            hooks.remove(hook)


def startup_hooks() -> tuple[Hook, ...]:
    return tuple(_startup_hooks)


def shutdown_hooks() -> tuple[Hook, ...]:
    return tuple(reversed(_shutdown_hooks))


async def run_startup() -> None:
    """Run every start-up hook; the first failure aborts start-up (the server then exits)."""
    for hook in startup_hooks():
        await hook()


async def run_shutdown() -> None:
    """Run every shutdown hook; one failing hook is logged and does not stop the others."""
    for hook in shutdown_hooks():
        try:
            await hook()
        except Exception:
            logger.exception("lifespan shutdown hook %s failed", hook.__qualname__)


class LifespanApp:
    """An ASGI application that answers the lifespan protocol and passes the rest on.

    ``before_shutdown`` runs ahead of the shutdown hooks (the hop-free handler's request
    threads hand their connections back before the database pool closes).
    """

    def __init__(self, app: ASGIApp, *, before_shutdown: Sequence[Hook] = ()) -> None:
        self.app = app
        self.before_shutdown = tuple(before_shutdown)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await run_startup()
                except Exception as exc:
                    logger.exception("lifespan start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                freeze_heap()  # last: whatever start-up built stays for the worker's life
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.before_shutdown:
                    await hook()
                await run_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _run_system_checks() -> None:
    messages = checks.run_checks(include_deployment_checks=settings.IS_PROD)
    errors = [message for message in messages if message.is_serious()]
    for message in messages:
        if not message.is_serious() and not message.is_silenced():
            logger.warning("system check: %s", message)
    if errors:
        raise ImproperlyConfigured("; ".join(str(error) for error in errors))


@on_startup
async def validate_settings() -> None:
    """Django's system checks: a worker with a broken configuration must not take traffic."""
    # The checks import URLconfs and models (sync, CPU-bound); no DB, so no thread affinity.
    await sync_to_async(_run_system_checks, thread_sensitive=False)()


def _open_database() -> None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # Connections are thread-bound: close (or hand back to the pool) in this same thread.
        connections.close_all()


@on_startup
async def warm_database() -> None:
    """Open the database (and psycopg's pool) before the first request needs it."""
    try:
        await sync_to_async(_open_database, thread_sensitive=False)()
    except Exception as exc:  # noqa: BLE001 - a cold pool is slower, not fatal; readiness reports it
        logger.warning("database warm-up failed: %s", type(exc).__name__)


@on_startup
async def warm_redis() -> None:
    """Connect this event loop's ``redis.asyncio`` pool before the first request needs it."""
    if not settings.REDIS_URL:
        return
    from musicbud.cache import redis_client

    try:
        await redis_client().ping()
    except Exception as exc:  # noqa: BLE001 - Redis being down is reported by readiness
        logger.warning("redis warm-up failed: %s", type(exc).__name__)


@on_shutdown
async def close_graph_drivers() -> None:
    """Close the Neo4j drivers this worker opened (the loop's async one, the projector's)."""
    if not settings.NEO4J_URL:
        return
    from graph.connection import async_driver_close, drivers_reset

    await async_driver_close()
    # Closing the sync driver closes its sockets: blocking, though brief.
    await sync_to_async(drivers_reset, thread_sensitive=False)()


@on_shutdown
async def close_redis() -> None:
    from musicbud.cache import close_redis_clients

    await close_redis_clients()


def _close_database_pool() -> None:
    connections.close_all()
    for connection in connections.all():
        # Only the PostgreSQL backend pools. Its ``pool`` property would create a pool just
        # to close it, so look at the class's registry of opened pools first.
        opened = getattr(type(connection), "_connection_pools", {})
        if connection.alias in opened:
            connection.close_pool()  # type: ignore[attr-defined]


@on_shutdown
async def close_database() -> None:
    """Close psycopg's pool so PostgreSQL sees the worker's connections end cleanly."""
    await sync_to_async(_close_database_pool, thread_sensitive=False)()


def freeze_heap() -> None:
    """Move everything alive after start-up out of the garbage collector's reach.

    Modules, settings, URL patterns and schemas live as long as the worker; without this,
    each full collection walks them all (tens of milliseconds on a loaded core) in the
    middle of some request. Frozen objects are never collected, and never scanned.
    """
    gc.collect()
    gc.freeze()
