"""The graph benchmark: a synthetic taste dataset at scale (bulk-inserted, skewed popularity)
and latency percentiles of ``buds_for_user`` on the SQL backend (``manage.py graph_bench``)."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction

from graph.backends import sql
from graph.types import BudSource
from musicbud.models import (
    ITEM_MODELS,
    EdgeSource,
    ItemKind,
    Relation,
    TasteEdge,
    User,
)
from musicbud.services.taste import taste_stats_refresh

# Share of the edges per (relation, kind) cell, and the catalogue size per kind.
EDGE_MIX: dict[tuple[str, str], float] = {
    (Relation.LIKE, ItemKind.TRACK): 0.45,
    (Relation.LIKE, ItemKind.ARTIST): 0.10,
    (Relation.LIKE, ItemKind.ALBUM): 0.05,
    (Relation.LIKE, ItemKind.GENRE): 0.03,
    (Relation.TOP, ItemKind.TRACK): 0.10,
    (Relation.TOP, ItemKind.ARTIST): 0.07,
    (Relation.PLAYED, ItemKind.TRACK): 0.20,
}
CATALOGUE_SHARE: dict[str, float] = {
    ItemKind.TRACK: 1.0,
    ItemKind.ARTIST: 0.1,
    ItemKind.ALBUM: 0.2,
    ItemKind.GENRE: 0.004,
}
BATCH = 5000

Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Latency:
    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def bench_dataset_create(
    *, users: int, edges: int, tracks: int, seed: int, zipf: float, report: Report
) -> None:
    """Bulk-insert users, a catalogue and taste edges with Zipf-skewed item popularity."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    password = make_password(None)
    started = time.monotonic()
    with transaction.atomic():
        User.objects.bulk_create(
            (
                User(username=f"bench{n}", email=f"bench{n}@example.org", password=password)
                for n in range(users)
            ),
            batch_size=BATCH,
        )
        item_ids: dict[str, list[int]] = {}
        for kind, share in CATALOGUE_SHARE.items():
            model = ITEM_MODELS[kind]
            count = max(10, int(tracks * share))
            model._default_manager.bulk_create(
                (model(name=f"{kind} {n}") for n in range(count)), batch_size=BATCH
            )
            item_ids[kind] = list(
                model._default_manager.order_by("pk").values_list("pk", flat=True)
            )
    report(f"catalogue and {users} users in {time.monotonic() - started:.1f} s")
    user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    # Each cell's items drawn with weight 1/rank^zipf: a few hits, a long tail.
    cumulative = {
        kind: list(itertools.accumulate(1 / (rank + 1) ** zipf for rank in range(len(ids))))
        for kind, ids in item_ids.items()
    }
    # Library sizes vary a lot between people (log-normal), averaging edges/users.
    raw = [rng.lognormvariate(0, 0.8) for _ in user_ids]
    scale = edges / sum(raw)
    written = 0
    batch: list[TasteEdge] = []
    for user_id, weight in zip(user_ids, raw, strict=True):
        budget = max(1, round(weight * scale))
        for (relation, kind), share in EDGE_MIX.items():
            want = min(round(budget * share), len(item_ids[kind]) // 2)
            chosen: set[int] = set()
            while len(chosen) < want:
                chosen.update(
                    rng.choices(item_ids[kind], cum_weights=cumulative[kind], k=want - len(chosen))
                )
            for rank, item in enumerate(sorted(chosen), start=1):
                batch.append(
                    TasteEdge(
                        user_id=user_id,
                        relation=relation,
                        kind=kind,
                        source=EdgeSource.DEMO,
                        rank=rank if relation == Relation.TOP else None,
                        play_count=rng.randint(1, 200) if relation == Relation.PLAYED else None,
                        **{f"{kind}_id": item},
                    )
                )
        if len(batch) >= BATCH:
            TasteEdge.objects.bulk_create(batch, batch_size=BATCH)
            written += len(batch)
            batch = []
            report(f"edges {written}/{edges} ({time.monotonic() - started:.0f} s)")
    TasteEdge.objects.bulk_create(batch, batch_size=BATCH)
    written += len(batch)
    # Bulk inserts bypass the taste services: recompute the sizes the scoring reads.
    taste_stats_refresh()
    report(f"{written} edges in {time.monotonic() - started:.1f} s")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def buds_latency(
    *, samples: int, source: BudSource, kind: str | None, limit: int, seed: int
) -> Latency:
    """Time ``buds_for_user`` on the SQL backend for a seeded sample of users (warm cache)."""
    user_ids = list(
        User.objects.filter(taste_edges__isnull=False).distinct().values_list("pk", flat=True)
    )
    sample = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    chosen = sample.sample(user_ids, min(samples, len(user_ids)))

    async def run() -> list[float]:
        timings: list[float] = []
        await sql.buds_for_user(
            user_id=chosen[0], kind=kind, source=source, limit=limit, cursor=None
        )
        for user_id in chosen:
            started = time.perf_counter()
            await sql.buds_for_user(
                user_id=user_id, kind=kind, source=source, limit=limit, cursor=None
            )
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    timings = asyncio.run(run())
    return Latency(
        samples=len(timings),
        p50_ms=statistics.median(timings),
        p95_ms=_percentile(timings, 0.95),
        p99_ms=_percentile(timings, 0.99),
        max_ms=max(timings),
    )
