"""The outbox stays bounded: nothing is queued when no projection consumes it, applied rows are
pruned after their retention, and readiness reads the lag without counting the outbox."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.models import EdgeVersion, NodeVersion, ProjectionOutbox
from graph.outbox import outbox_prune
from musicbud.models import ItemKind, Relation
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tests.factories import TrackFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_sql_backend_alone_queues_nothing_and_reports_no_lag(
    settings: SettingsWrapper, client: Client
) -> None:
    settings.GRAPH_PROJECTION = False
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    user, track = UserFactory.create(), TrackFactory.create()

    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    track.name = "Renamed"
    track.save()
    user.delete()

    assert not ProjectionOutbox.objects.exists()
    # The versions are kept: graph_rebuild projects them when a Neo4j store comes.
    assert EdgeVersion.objects.get().version == 2
    assert NodeVersion.objects.filter(kind="track").get().version == 1
    graph = client.get(reverse("health-ready")).json()["components"]["graph"]
    graph.pop("latency_ms")
    assert graph == {"status": "up", "backend": "sql", "projection": None}
    metrics = client.get(reverse("metrics")).content.decode()
    assert re.search(r"^musicbud_graph_projection_pending 0\.0$", metrics, re.M)
    assert re.search(r"^musicbud_graph_projection_lag_seconds 0\.0$", metrics, re.M)


def test_readiness_reads_the_lag_through_one_index_probe_not_a_count(
    settings: SettingsWrapper, client: Client
) -> None:
    settings.GRAPH_PROJECTION = True
    user = UserFactory.create()
    for track in TrackFactory.create_batch(3):
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    ProjectionOutbox.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("health-ready"))

    graph = response.json()["components"]["graph"]
    assert 300 <= graph["projection"]["oldest_age_seconds"] < 330
    assert set(graph["projection"]) == {"oldest_age_seconds"}
    outbox_queries = [q["sql"] for q in queries if "graph_projectionoutbox" in q["sql"]]
    assert len(outbox_queries) == 1
    assert "COUNT(" not in outbox_queries[0].upper()
    assert outbox_queries[0].endswith("IS NULL ORDER BY 1 ASC LIMIT 1")


def _applied_rows(*ages_in_days: float) -> list[int]:
    user = UserFactory.create()
    ProjectionOutbox.objects.all().delete()
    for track in TrackFactory.create_batch(len(ages_in_days)):
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    rows = list(ProjectionOutbox.objects.order_by("id"))
    now = timezone.now()
    for row, age in zip(rows, ages_in_days, strict=True):
        ProjectionOutbox.objects.filter(pk=row.pk).update(applied_at=now - timedelta(days=age))
    return [row.pk for row in rows]


def test_prune_deletes_only_applied_rows_past_the_retention_in_bounded_batches(
    settings: SettingsWrapper,
) -> None:
    settings.GRAPH_PROJECTION = True
    old1, old2, old3, recent = _applied_rows(9, 8, 7.5, 6)
    pending = UserFactory.create()  # its node row stays pending
    ProjectionOutbox.objects.filter(user_pk=pending.pk).update(
        created_at=timezone.now() - timedelta(days=30)
    )
    before = timezone.now() - timedelta(days=7)

    assert outbox_prune(applied_before=before, limit=2) == 2
    assert not ProjectionOutbox.objects.filter(pk__in=[old1, old2]).exists()
    assert outbox_prune(applied_before=before, limit=2) == 1
    assert outbox_prune(applied_before=before, limit=2) == 0
    left = set(ProjectionOutbox.objects.values_list("pk", flat=True))
    assert recent in left
    assert old3 not in left
    assert ProjectionOutbox.objects.filter(user_pk=pending.pk, applied_at__isnull=True).count() == 1


def test_the_graph_worker_prunes_past_the_retention_setting(
    settings: SettingsWrapper, neo4j_graph: str
) -> None:
    settings.GRAPH_PROJECTION = True
    settings.GRAPH_OUTBOX_RETENTION_DAYS = 2
    settings.GRAPH_WORKER_BATCH_SIZE = 2
    *_, recent = _applied_rows(5, 4, 3, 1)
    out = io.StringIO()

    call_command("graph_worker", "--once", stdout=out)

    assert list(ProjectionOutbox.objects.values_list("pk", flat=True)) == [recent]
    assert out.getvalue().strip() == "applied 0, skipped 0, failed 0; pending 0; pruned 3"
