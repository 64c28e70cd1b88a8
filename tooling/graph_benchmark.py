"""The graph benchmark: latency percentiles of ``buds_for_user`` on the SQL backend over the
seed_demo dataset (``manage.py graph_bench``)."""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from dataclasses import dataclass

from graph.backends import sql
from graph.types import BudSource
from musicbud.models import User


@dataclass(frozen=True, slots=True)
class Latency:
    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of them below
    or equal."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def bench_users(*, samples: int, seed: int) -> list[int]:
    """A reproducible sample of users who have taste edges."""
    user_ids = sorted(
        User.objects.filter(taste_edges__isnull=False).distinct().values_list("pk", flat=True)
    )
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    return rng.sample(user_ids, min(samples, len(user_ids)))


def buds_latency(
    *, user_ids: list[int], source: BudSource, kind: str | None, limit: int
) -> Latency:
    """Time ``buds_for_user`` on the SQL backend for each user, one after the other, after one
    warm-up call (the figures are for a warm database cache).

    As in the production worker (``config.lifespan``), the heap built so far is frozen after
    the warm-up, so a full collection does not walk Django's start-up objects: unfrozen, three
    ~60 ms collections fell inside 300 calls and made the tail the collector's.
    """

    async def run() -> list[float]:
        timings: list[float] = []
        await sql.buds_for_user(
            user_id=user_ids[0], kind=kind, source=source, limit=limit, cursor=None
        )
        gc.collect()
        gc.freeze()
        for user_id in user_ids:
            started = time.perf_counter()
            await sql.buds_for_user(
                user_id=user_id, kind=kind, source=source, limit=limit, cursor=None
            )
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    try:
        timings = asyncio.run(run())
    finally:
        gc.unfreeze()
    return Latency(
        samples=len(timings),
        p50_ms=statistics.median(timings),
        p95_ms=percentile(timings, 0.95),
        p99_ms=percentile(timings, 0.99),
        max_ms=max(timings),
    )
