"""Fixtures of the graph suite: a Bolt server for the session (embedded ArcadeDB, or
TEST_NEO4J_URL), a clean graph per test, and a small taste world written through the services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connections
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.connection import async_driver_close, drivers_reset, sync_driver
from graph.projection import projection_wait
from graph.schema import graph_labels_install
from tests.conftest import require_service
from tests.graph.taste_world import TasteWorld, build_world
from tooling.arcadedb import BoltServerError, bolt_ready, embedded_bolt_server_start
from tooling.ports import free_port


@pytest.fixture(autouse=True)
async def _close_executor_connections() -> AsyncIterator[None]:
    yield
    # The ORM work of async tests runs in asgiref's executor thread; the test database
    # teardown only closes the main thread's connections, so close that thread's here.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def taste_world(db: None) -> TasteWorld:
    return build_world()


async def _install_labels() -> None:
    try:
        await graph_labels_install()
    finally:
        await async_driver_close()


@pytest.fixture(scope="session")
def bolt_url() -> Iterator[str]:
    """One Bolt server for the whole session, its labels installed once."""
    configured = django_settings.TEST_NEO4J_URL
    if configured:
        if not bolt_ready(configured):
            require_service("Bolt graph server", "TEST_NEO4J_URL does not answer RETURN 1")
        url, server = configured, None
    else:
        try:
            server = embedded_bolt_server_start()
        except BoltServerError as exc:
            require_service("Bolt graph server", str(exc))
            raise  # not reached: require_service fails or skips
        url = server.url
    original = django_settings.NEO4J_URL
    django_settings.NEO4J_URL = url
    try:
        drivers_reset()
        asyncio.run(_install_labels())
    finally:
        drivers_reset()
        django_settings.NEO4J_URL = original
    yield url
    if server is not None:
        server.stop()


def graph_clear() -> None:
    with sync_driver().session(database=django_settings.NEO4J_DATABASE) as session:
        session.run("MATCH (n) DETACH DELETE n").consume()


@pytest.fixture
def neo4j_graph(bolt_url: str, settings: SettingsWrapper) -> Iterator[str]:
    """The Bolt server configured as the graph store, with no data in it."""
    settings.NEO4J_URL = bolt_url
    drivers_reset()
    graph_clear()
    yield bolt_url
    projection_wait()
    drivers_reset()


@pytest.fixture
def dead_bolt_url(settings: SettingsWrapper) -> Iterator[str]:
    """A Bolt URL where nothing listens, configured as the graph store: Neo4j is down."""
    settings.NEO4J_URL = f"bolt://neo4j:password@127.0.0.1:{free_port()}"
    drivers_reset()
    yield settings.NEO4J_URL
    projection_wait()
    drivers_reset()
