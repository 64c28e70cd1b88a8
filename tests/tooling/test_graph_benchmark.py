"""The graph benchmark's arithmetic (tooling/graph_benchmark.py)."""

from __future__ import annotations

from tooling.graph_benchmark import percentile


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([3.0], 0.99) == 3.0
