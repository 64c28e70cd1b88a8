"""Many edge changes recorded at once: versions and outbox rows in two statements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from graph.models import EdgeVersion, OutboxOperation, ProjectionOutbox
from graph.outbox import edge_changes_record, edge_versions_lock
from graph.types import EdgeChange, EdgeKey
from musicbud.models import TasteEdge
from tests.graph.test_stats import bulk_edges

pytestmark = pytest.mark.django_db


def bulk_changes() -> tuple[list[TasteEdge], list[EdgeKey], list[EdgeChange]]:
    """``bulk_edges``, each as the change that wrote it."""
    edges, keys = bulk_edges()
    changes = [
        EdgeChange(
            user=edge.user,
            relation=edge.relation,
            kind=edge.kind,
            item=edge.track or edge.artist,  # type: ignore[arg-type]
            edge=edge,
        )
        for edge in edges
    ]
    return edges, keys, changes


def test_many_edge_changes_take_versions_and_outbox_rows_in_two_statements(
    django_capture_on_commit_callbacks,
) -> None:
    edges, keys, changes = bulk_changes()
    edge_versions_lock(keys=keys[:1])
    first_track = edges[0].track
    assert first_track is not None
    deleted = EdgeChange(
        user=edges[0].user, relation="like", kind="track", item=first_track, edge=None
    )

    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        rows = edge_changes_record(changes=[*changes, deleted], queued=True)

    assert len(queries) == 2
    assert [(row.operation, row.version) for row in rows] == [
        *[(OutboxOperation.UPSERT, 1)] * 5,
        (OutboxOperation.DELETE, 2),
    ]
    assert [row.rank for row in rows] == [None, None, None, None, 1, None]
    edge_rows = ProjectionOutbox.objects.filter(operation__in=["upsert", "delete"])
    assert edge_rows.count() == 6
    assert EdgeVersion.objects.get(user_id=keys[0].user_id, item_id=keys[0].item_id).version == 2
    assert len(callbacks) == 1  # one dispatch of all six rows after commit
