"""The graph benchmark: latency percentiles of ``buds_for_user`` on the SQL backend over the
seed_demo dataset (``manage.py graph_bench``)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import statistics
import time
from dataclasses import dataclass

from graph.backends import sql
from graph.queries import compatibility_answer
from graph.types import BudSource
from musicbud.models import User
from musicbud.relationships.models import Audience, PrivacySettings
from musicbud.relationships.visibility import hidden_user_ids


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
    *,
    user_ids: list[int],
    source: BudSource,
    kind: str | None,
    limit: int,
    visibility: bool = False,
) -> Latency:
    """Time ``buds_for_user`` on the SQL backend for each user, one after the other, after one
    warm-up call (the figures are for a warm database cache).

    As in the production worker (``config.lifespan``), the heap built so far is frozen after
    the warm-up, so a full collection does not walk Django's start-up objects: unfrozen, three
    ~60 ms collections fell inside 300 calls and made the tail the collector's.

    ``visibility``: as a cold ``/me/buds`` page asks it, with the people the user may not
    find (``hidden_user_ids``, one query, timed too) left out inside the ranking.
    """

    async def hidden(user_id: int) -> frozenset[int]:
        return await hidden_user_ids(viewer_id=user_id) if visibility else frozenset()

    async def run() -> list[float]:
        timings: list[float] = []
        await sql.buds_for_user(
            user_id=user_ids[0],
            kind=kind,
            source=source,
            limit=limit,
            cursor=None,
            hidden=await hidden(user_ids[0]),
        )
        gc.collect()
        gc.freeze()
        for user_id in user_ids:
            started = time.perf_counter()
            await sql.buds_for_user(
                user_id=user_id,
                kind=kind,
                source=source,
                limit=limit,
                cursor=None,
                hidden=await hidden(user_id),
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


def _latency(timings: list[float]) -> Latency:
    return Latency(
        samples=len(timings),
        p50_ms=statistics.median(timings),
        p95_ms=percentile(timings, 0.95),
        p99_ms=percentile(timings, 0.99),
        max_ms=max(timings),
    )


def private_users_mark(*, user_ids: list[int], share: float, seed: int) -> int:
    """Make a reproducible ``share`` of the users discoverable by nobody (so the visibility
    rule has people to leave out); returns how many are."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    chosen = rng.sample(user_ids, int(len(user_ids) * share))
    PrivacySettings.objects.bulk_create(
        [PrivacySettings(user_id=pk, discoverable=Audience.NOBODY) for pk in chosen],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["discoverable"],
    )
    return PrivacySettings.objects.filter(discoverable=Audience.NOBODY).count()


def compatibility_latency(*, user_ids: list[int]) -> Latency:
    """Time compatibility on the SQL backend for consecutive pairs of the sample (each user
    with the next), after one warm-up call."""
    pairs = list(itertools.pairwise(user_ids))

    async def run() -> list[float]:
        timings: list[float] = []
        await compatibility_answer(sql, first=pairs[0][0], second=pairs[0][1])
        gc.collect()
        gc.freeze()
        for first, second in pairs:
            started = time.perf_counter()
            await compatibility_answer(sql, first=first, second=second)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    try:
        timings = asyncio.run(run())
    finally:
        gc.unfreeze()
    return _latency(timings)


def visibility_cost(*, user_ids: list[int]) -> tuple[Latency, Latency]:
    """``buds_for_user`` (all sources, every kind, limit 20) without and with the visibility
    rule (``hidden_user_ids``' query included), the two calls interleaved user by user so a
    change of the machine's load during the run weighs on both alike."""

    async def run() -> tuple[list[float], list[float]]:
        plain: list[float] = []
        visible: list[float] = []

        async def page(user_id: int, hidden: frozenset[int] = frozenset()) -> None:
            await sql.buds_for_user(
                user_id=user_id,
                kind=None,
                source=BudSource.ALL,
                limit=20,
                cursor=None,
                hidden=hidden,
            )

        await page(user_ids[0])
        gc.collect()
        gc.freeze()
        for user_id in user_ids:
            started = time.perf_counter()
            await page(user_id)
            plain.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await page(user_id, await hidden_user_ids(viewer_id=user_id))
            visible.append((time.perf_counter() - started) * 1000)
        return plain, visible

    try:
        plain, visible = asyncio.run(run())
    finally:
        gc.unfreeze()
    return _latency(plain), _latency(visible)
