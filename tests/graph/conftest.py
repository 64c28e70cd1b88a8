"""Fixtures of the graph suite: a clean graph per test on the session's Bolt server
(tests/fixtures/bolt.py), and a small taste world written through the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connections
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.connection import drivers_reset, sync_driver
from graph.projection import projection_wait
from tests.graph.taste_world import TasteWorld, build_world
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
