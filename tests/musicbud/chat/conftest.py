"""Fixtures of the chat migrations' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    """A migration executor; every app is migrated forward to its latest migration afterwards,
    so the tests that follow find today's schema (a chat table left at an older migration
    failed later tests that rely on the newer one)."""
    executor = MigrationExecutor(connection)
    yield executor
    executor = MigrationExecutor(connection)  # the graph as the test left it
    executor.migrate(executor.loader.graph.leaf_nodes())
