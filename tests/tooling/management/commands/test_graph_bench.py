"""``manage.py graph_bench`` on a tiny seed_demo dataset: it seeds, measures and reports
(figures are not asserted, only that every measured query is reported)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from graph.models import CellPopulation, ItemPopularity, ProjectionOutbox, UserLibrary
from graph.stats import taste_stats_refresh
from musicbud.models import TasteEdge, User
from tooling.demo import demo_seed

pytestmark = pytest.mark.django_db(transaction=True)


def _stats() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (
        sorted(UserLibrary.objects.values_list()),
        sorted(CellPopulation.objects.values_list("relation", "kind", "users")),
        sorted(ItemPopularity.objects.values_list("relation", "kind", "item_id", "holders")),
    )


def test_bench_seeds_the_demo_dataset_and_reports_every_source() -> None:
    out = io.StringIO()

    call_command(
        "graph_bench",
        "--seed-demo",
        "--users=30",
        "--edges=900",
        "--tracks=300",
        "--samples=5",
        stdout=out,
    )

    text = out.getvalue()
    assert User.objects.count() == 30
    assert TasteEdge.objects.count() == 900
    assert "seed_demo: created in " in text
    assert "dataset: 30 users, 900 taste edges on " in text
    # Bulk inserts bypass the services: no outbox rows, and the statistics equal a refresh.
    assert not ProjectionOutbox.objects.exists()
    seeded = _stats()
    taste_stats_refresh()
    assert seeded == _stats()
    timed = [line for line in text.splitlines() if line.startswith("buds_for_user")]
    assert [line.split(":")[0] for line in timed] == [
        *(
            f"buds_for_user source={source} kind={kind}"
            for source in ("likes", "top", "played", "all")
            for kind in ("any", "track")
        ),
        "buds_for_user source=all kind=any interleaved",
        "buds_for_user source=all kind=any interleaved +visibility",
    ]
    assert all(re.search(r": 5 users, p50 [\d.]+ ms, p95 [\d.]+ ms, p99 ", line) for line in timed)
    assert re.search(r"\ncompatibility: 4 pairs, p50 [\d.]+ ms, p95 [\d.]+ ms, p99 ", text)


def test_bench_measures_an_existing_dataset_without_seeding() -> None:
    demo_seed(users=10, tracks=100, edges=200, seed=7)
    out = io.StringIO()

    call_command("graph_bench", "--samples=3", stdout=out)

    assert "seed_demo" not in out.getvalue()
    assert TasteEdge.objects.count() == 200
    assert out.getvalue().count(": 3 users, p50 ") == 10
    assert out.getvalue().count(": 2 pairs, p50 ") == 1


def test_bench_refuses_demo_data_of_other_parameters() -> None:
    demo_seed(users=10, tracks=100, edges=200, seed=7)

    with pytest.raises(CommandError, match="seed_demo --reset"):
        call_command(
            "graph_bench", "--seed-demo", "--users=12", "--samples=0", stdout=io.StringIO()
        )

    assert User.objects.count() == 10


def test_bench_without_taste_edges_says_how_to_get_them() -> None:
    with pytest.raises(CommandError, match="run seed_demo"):
        call_command("graph_bench", "--samples=3", stdout=io.StringIO())
