"""The write port: what a taste write records beside its edges, and what it never records."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from graph.models import EdgeVersion, ProjectionOutbox
from graph.stats import taste_stats_refresh
from graph.types import EdgeChange, EdgeKey
from graph.writes import taste_edges_write
from tests.graph.test_outbox import bulk_changes
from tests.musicbud.services.test_taste import exact_stats

pytestmark = pytest.mark.django_db


def _changes() -> tuple[list[EdgeChange], list[EdgeKey]]:
    _, keys, changes = bulk_changes()
    return changes, keys


def test_a_write_records_versions_outbox_rows_statistics_and_its_after_commit_work(
    django_capture_on_commit_callbacks,
) -> None:
    changes, keys = _changes()
    done: list[str] = []

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        CaptureQueriesContext(connection) as queries,
        taste_edges_write(keys=keys, after_commit=lambda: done.append("invalidated")) as write,
    ):
        for change in changes:
            write.record(change, created=True)

    # Lock, versions, outbox rows, then the statistics' three statements.
    assert len(queries) == 6
    assert ProjectionOutbox.objects.filter(operation="upsert").count() == 5
    assert sorted(EdgeVersion.objects.values_list("version", flat=True)) == [1] * 5
    assert done == ["invalidated"]
    assert len(callbacks) == 2  # the projection's dispatch, then the caller's work
    counted = exact_stats()
    taste_stats_refresh()
    assert counted == exact_stats()


def test_an_update_is_versioned_and_leaves_the_statistics_alone(
    django_capture_on_commit_callbacks,
) -> None:
    changes, keys = _changes()

    with (
        django_capture_on_commit_callbacks(),
        CaptureQueriesContext(connection) as queries,
        taste_edges_write(keys=keys[:1], after_commit=lambda: None) as write,
    ):
        write.record(changes[0])

    assert len(queries) == 3  # lock, version, outbox row
    assert exact_stats() == (set(), set(), set())


def test_a_write_that_records_nothing_records_nothing(django_capture_on_commit_callbacks) -> None:
    _, keys = _changes()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
        taste_edges_write(keys=keys, after_commit=lambda: None),
    ):
        pass

    assert len(queries) == 1  # the lock only
    assert callbacks == []
    assert ProjectionOutbox.objects.filter(operation="upsert").count() == 0


def test_an_edge_not_locked_by_the_write_is_refused(django_capture_on_commit_callbacks) -> None:
    changes, keys = _changes()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ValueError, match="was not locked"),
        transaction.atomic(),  # the caller's transaction, rolled back
        taste_edges_write(keys=keys[:1], after_commit=lambda: None) as write,
    ):
        write.record(changes[1], created=True)

    assert callbacks == []
    assert ProjectionOutbox.objects.filter(operation="upsert").count() == 0
    assert exact_stats() == (set(), set(), set())
