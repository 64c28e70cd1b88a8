"""graph_bench on a tiny dataset: it generates, measures and reports (figures are not asserted)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from graph.models import (
    CellPopulation,
    ItemPopularity,
    ProjectionOutbox,
    UserLibrary,
    library_column,
)
from musicbud.models import ItemKind, Relation, TasteEdge, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_bench_generates_the_dataset_and_reports_percentiles() -> None:
    out = io.StringIO()

    call_command(
        "graph_bench",
        "--generate",
        "--users",
        "30",
        "--edges",
        "900",
        "--tracks",
        "500",
        "--samples",
        "5",
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert User.objects.count() == 30
    edges = TasteEdge.objects.count()
    assert 800 <= edges <= 1000
    assert f"dataset: 30 users, {edges} taste edges on " in "\n".join(lines)
    # Bulk inserts bypass the services: no outbox rows, statistics refreshed.
    assert not ProjectionOutbox.objects.exists()
    columns = [library_column(r, k) for r in Relation.values for k in ItemKind.values]
    sizes = [getattr(library, c) for library in UserLibrary.objects.all() for c in columns]
    assert sum(sizes) == edges
    assert sum(ItemPopularity.objects.values_list("holders", flat=True)) == edges
    assert CellPopulation.objects.count() == 7
    timed = [line for line in lines if line.startswith("buds_for_user")]
    assert len(timed) == 2
    assert all(re.search(r": 5 users, p50 [\d.]+ ms, p95 [\d.]+ ms", line) for line in timed)


def test_bench_refuses_to_generate_into_a_database_with_users() -> None:
    UserFactory.create()

    with pytest.raises(CommandError, match="needs an empty database"):
        call_command("graph_bench", "--generate", "--samples", "0", stdout=io.StringIO())
