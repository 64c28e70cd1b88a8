"""Connections to the Neo4j graph store (sync driver for the projector, async for queries),
with a bounded connection timeout, plus the small Cypher helpers the rest of the layer uses."""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.conf import settings

# The driver is imported where it is used: a worker on the SQL backend (the default) never
# loads it, which keeps ~30 MB out of every process.
if TYPE_CHECKING:
    from neo4j import AsyncDriver, Driver

_async_drivers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncDriver] = (
    weakref.WeakKeyDictionary()
)


def graph_configured() -> bool:
    """Whether a Neo4j store is configured at all (the projection and readiness need one)."""
    return bool(settings.NEO4J_URL)


def split_bolt_url(
    url: str, *, user: str = "neo4j", password: str = ""
) -> tuple[str, tuple[str, str]]:
    """The URL without credentials, and the credentials (from the URL, else the defaults)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, "", "", "")), (
        unquote(parts.username) if parts.username else user,
        unquote(parts.password) if parts.password else password,
    )


def _target() -> tuple[str, tuple[str, str]]:
    return split_bolt_url(
        settings.NEO4J_URL or "", user=settings.NEO4J_USER, password=settings.NEO4J_PASSWORD
    )


def _driver_options() -> dict[str, Any]:
    timeout = settings.GRAPH_CONNECT_TIMEOUT_SECONDS
    return {
        "connection_timeout": timeout,
        "connection_acquisition_timeout": timeout * 2,
        "max_transaction_retry_time": 0,
    }


@functools.cache
def sync_driver() -> Driver:
    from neo4j import GraphDatabase

    url, auth = _target()
    return GraphDatabase.driver(url, auth=auth, **_driver_options())


def async_driver() -> AsyncDriver:
    """The async driver of the running event loop (its connection pool is bound to the loop)."""
    from neo4j import AsyncGraphDatabase

    loop = asyncio.get_running_loop()
    driver = _async_drivers.get(loop)
    if driver is None:
        url, auth = _target()
        driver = AsyncGraphDatabase.driver(url, auth=auth, **_driver_options())
        _async_drivers[loop] = driver
    return driver


async def async_driver_close() -> None:
    """Close the running loop's driver (before a loop made by ``asyncio.run`` ends)."""
    driver = _async_drivers.pop(asyncio.get_running_loop(), None)
    if driver is not None:
        await driver.close()


def drivers_reset() -> None:
    """Forget cached drivers (after the settings changed, e.g. in tests)."""
    if sync_driver.cache_info().currsize:
        sync_driver().close()
    sync_driver.cache_clear()
    _async_drivers.clear()


async def cypher_read(query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run a parameterised read query; one dict per record."""
    from neo4j import READ_ACCESS

    async with async_driver().session(
        database=settings.NEO4J_DATABASE, default_access_mode=READ_ACCESS
    ) as session:
        result = await session.run(query, params or {})
        return [record.data() async for record in result]


async def cypher_write(query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run a parameterised write query in an explicit transaction; one dict per record."""
    # The transaction commits when the block succeeds and rolls back when it raises.
    async with (
        async_driver().session(database=settings.NEO4J_DATABASE) as session,
        await session.begin_transaction() as tx,
    ):
        result = await tx.run(query, params or {})
        return [record.data() async for record in result]


async def graph_ping() -> None:
    """A real round trip: the Bolt port may be open before the database answers."""
    rows = await cypher_read("RETURN 1 AS ok")
    if rows != [{"ok": 1}]:
        raise RuntimeError(f"unexpected answer to RETURN 1: {rows!r}")
