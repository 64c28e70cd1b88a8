"""The bud-ranking evaluation's metrics (tooling/bud_eval.py) on hand-built rankings."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from tooling.bud_eval import ranking_metrics


def test_metrics_of_a_hand_built_ranking() -> None:
    relevant = {uuid4() for _ in range(4)}
    r1, r2, r3, _ = sorted(relevant)
    ranked: list[UUID] = [r1, uuid4(), r2, uuid4(), uuid4(), uuid4(), r3, uuid4()]

    metrics = ranking_metrics(ranked, relevant)

    # Only eight answers: the two missing places of the top 10 count as misses.
    assert metrics.precision == {5: 2 / 5, 7: 3 / 7, 10: 3 / 10}
    assert metrics.recall == {5: 0.5, 7: 0.75, 10: 0.75}
    # DCG = 1/log2(1 + 1) + 1/log2(3 + 1) (+ 1/log2(7 + 1)); ideal: the four at ranks 1-4.
    assert metrics.ndcg[5] == pytest.approx(0.5855700749881525, abs=1e-12)
    assert metrics.ndcg[7] == pytest.approx(0.715696758318853, abs=1e-12)
    assert metrics.ndcg[10] == metrics.ndcg[7]


def test_a_perfect_and_an_empty_ranking() -> None:
    relevant = {uuid4(), uuid4()}

    perfect = ranking_metrics(sorted(relevant), relevant, ks=(2,))
    empty = ranking_metrics([], relevant, ks=(2,))

    assert (perfect.precision, perfect.recall, perfect.ndcg) == ({2: 1.0}, {2: 1.0}, {2: 1.0})
    assert (empty.precision, empty.recall, empty.ndcg) == ({2: 0.0}, {2: 0.0}, {2: 0.0})
