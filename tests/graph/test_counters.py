"""counters_add: the one counter upsert (rows summed per key, totals returned)."""

from __future__ import annotations

import pytest

from graph.counters import counters_add
from graph.models import CellPopulation

pytestmark = pytest.mark.django_db


def test_counters_add_sums_rows_sharing_a_key_and_returns_the_totals() -> None:
    first = counters_add(
        model=CellPopulation,
        key=("relation", "kind"),
        counters=("users",),
        rows=[(("like", "track"), (2,)), (("top", "genre"), (1,)), (("like", "track"), (3,))],
    )
    second = counters_add(
        model=CellPopulation,
        key=("relation", "kind"),
        counters=("users",),
        rows=[(("like", "track"), (1,)), (("played", "album"), (0,))],
    )

    assert first == {("like", "track"): (5,), ("top", "genre"): (1,)}
    assert second == {("like", "track"): (6,), ("played", "album"): (0,)}
    assert set(CellPopulation.objects.values_list("relation", "kind", "users")) == {
        ("like", "track", 6),
        ("top", "genre", 1),
        ("played", "album", 0),
    }
