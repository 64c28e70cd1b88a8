"""An offline evaluation of the bud ranking (``manage.py bud_eval``): planted taste communities
among popular-item noise, ranked through the graph interface, scored against the truth
(precision, recall and nDCG at k) beside the old app's raw overlap."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid5

from asgiref.sync import sync_to_async
from django.contrib.auth.hashers import make_password
from django.db import connections, transaction
from django.test import override_settings

from graph import queries
from graph.connection import async_driver_close, drivers_reset
from graph.types import BudSource
from musicbud.models import EdgeSource, ItemKind, Relation, TasteEdge, Track, User

KS: tuple[int, ...] = (5, 7, 10)
PROJECT = "project"
BASELINE = "raw overlap"
# The background is unrelated to the planted tastes: one, of this seed, serves every seed.
BACKGROUND_SEED = 42
# Planted users get fixed public ids: rankings break ties by them, so every run ranks alike.
PUBLIC_ID_NAMESPACE = UUID("6d4f2c1e-0b7a-4f5e-9c3d-2a1b0e9f8c7d")


@dataclass(frozen=True, slots=True)
class PlantedConfig:
    """The sizes of one planted world (the defaults are the evaluation's default).

    A *community* is a small group sharing a private pool of tracks nobody else holds: each
    member likes ``private_picks`` of its ``private_pool`` tracks, plus ``popular_picks`` of a
    ``popular_pool`` of hits everybody draws from. *Noise users* like ``noise_size`` tracks,
    ``noise_popular_share`` of them hits and the rest from a long tail of ``tail_pool`` tracks
    no community holds. A *background* of unrelated users (the demo data generator's, with its
    own catalogue) fills the statistics as real users would. For every member the right
    answer is the other members of their community; the ranking is asked for their top buds
    (the API's default question: every source, every kind).
    """

    communities: int = 8
    members: int = 8
    private_pool: int = 40
    private_picks: int = 14
    popular_pool: int = 60
    popular_picks: int = 15
    noise_users: int = 60
    noise_size: int = 30
    noise_popular_share: float = 0.9
    tail_pool: int = 400
    background_users: int = 300
    background_tracks: int = 1000
    background_edges: int = 15_000

    def problems(self) -> list[str]:
        """What makes this configuration impossible to build (empty when it is fine)."""
        found: list[str] = []
        if self.communities < 1 or self.members < 2:
            found.append("a community needs at least 2 members, and there is at least one")
        if not 0 <= self.private_picks <= self.private_pool:
            found.append("private picks must be between 0 and the private pool")
        if not 0 <= self.popular_picks <= self.popular_pool:
            found.append("popular picks must be between 0 and the popular pool")
        if not 0.0 <= self.noise_popular_share <= 1.0:
            found.append("the noise users' popular share must be between 0 and 1")
        hits, tail = self.noise_split
        if self.noise_users and (hits > self.popular_pool or tail > self.tail_pool):
            found.append("noise libraries must fit in the popular pool and the tail pool")
        if self.private_picks + self.popular_picks == 0:
            found.append("members must like something")
        if min(self.noise_users, self.noise_size, self.tail_pool, self.background_users) < 0:
            found.append("counts cannot be negative")
        return found

    @property
    def noise_split(self) -> tuple[int, int]:
        """(hits, tail tracks) in each noise user's library."""
        hits = round(self.noise_size * self.noise_popular_share)
        return hits, self.noise_size - hits

    def describe(self) -> str:
        hits, tail = self.noise_split
        background = (
            f"background {self.background_users} demo users / {self.background_edges} edges"
            if self.background_users
            else "no background"
        )
        return (
            f"{self.communities} communities x {self.members} members, each liking "
            f"{self.private_picks} of a private pool of {self.private_pool} and "
            f"{self.popular_picks} of {self.popular_pool} hits; {self.noise_users} noise users "
            f"liking {hits} hits and {tail} of {self.tail_pool} tail tracks; {background}"
        )


@dataclass(frozen=True, slots=True)
class PlantedWorld:
    """The planted users and tracks (by id), and everybody's public id. The catalogue, the
    users and the background are written once; each seed writes new tastes for them."""

    community_of: dict[int, int]
    pools: list[list[int]]
    popular: list[int]
    tail: list[int]
    noise: list[int]
    public_ids: dict[int, UUID]

    def relevant(self, user_id: int) -> set[UUID]:
        """The right answer for a member: the other members of their community."""
        community = self.community_of[user_id]
        return {
            self.public_ids[other]
            for other, c in self.community_of.items()
            if c == community and other != user_id
        }

    @property
    def members(self) -> list[int]:
        return sorted(self.community_of)


def _tracks(prefix: str, count: int) -> list[int]:
    rows = [Track(name=f"{prefix} {n}", spotify_id=f"eval-{prefix}-{n}") for n in range(count)]
    Track.objects.bulk_create(rows)
    by_external = dict(
        Track.objects.filter(spotify_id__startswith=f"eval-{prefix}-").values_list(
            "spotify_id", "pk"
        )
    )
    return [by_external[f"eval-{prefix}-{n}"] for n in range(count)]


def _users(prefix: str, count: int) -> list[int]:
    # No usable password (and no hashing): data for the evaluation, never logged into.
    password = make_password(None)
    rows = [
        User(
            username=f"{prefix}{n}",
            email=f"{prefix}{n}@eval.musicbud.invalid",
            password=password,
            public_id=uuid5(PUBLIC_ID_NAMESPACE, f"{prefix}{n}"),
        )
        for n in range(count)
    ]
    User.objects.bulk_create(rows)
    by_name = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
    return [by_name[f"{prefix}{n}"] for n in range(count)]


def planted_world_create(config: PlantedConfig) -> PlantedWorld:
    """Write the planted catalogue and users, and the background, into the (empty) database."""
    from tooling.demo import demo_seed

    if config.background_users:
        demo_seed(
            users=config.background_users,
            tracks=config.background_tracks,
            edges=config.background_edges,
            seed=BACKGROUND_SEED,
        )
    community_of: dict[int, int] = {}
    with transaction.atomic():
        popular = _tracks("hit", config.popular_pool)
        tail = _tracks("tail", config.tail_pool)
        pools = [_tracks(f"c{c}", config.private_pool) for c in range(config.communities)]
        for community in range(config.communities):
            for user in _users(f"c{community}m", config.members):
                community_of[user] = community
        noise = _users("noise", config.noise_users)
    return PlantedWorld(
        community_of=community_of,
        pools=pools,
        popular=popular,
        tail=tail,
        noise=noise,
        public_ids=dict(User.objects.values_list("pk", "public_id")),
    )


def planted_tastes_write(world: PlantedWorld, config: PlantedConfig, *, seed: int) -> None:
    """Replace the planted users' likes with this seed's draw; the same seed, the same likes."""
    from graph.stats import taste_stats_refresh

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    libraries: dict[int, list[int]] = {}
    for user in world.members:
        pool = world.pools[world.community_of[user]]
        libraries[user] = rng.sample(pool, config.private_picks) + rng.sample(
            world.popular, config.popular_picks
        )
    hits, tail_picks = config.noise_split
    for user in world.noise:
        libraries[user] = rng.sample(world.popular, hits) + rng.sample(world.tail, tail_picks)
    with transaction.atomic():
        TasteEdge.objects.filter(user_id__in=libraries).delete()
        TasteEdge.objects.bulk_create(
            TasteEdge(
                user_id=user,
                relation=Relation.LIKE,
                kind=ItemKind.TRACK,
                track_id=track,
                source=EdgeSource.DEMO,
            )
            for user, tracks in libraries.items()
            for track in tracks
        )
    # The edges bypassed the taste services, which keep the statistics exact per write.
    taste_stats_refresh()


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryMetrics:
    """Precision, recall and nDCG at each k of one ranked answer (binary relevance)."""

    precision: dict[int, float]
    recall: dict[int, float]
    ndcg: dict[int, float]


def ranking_metrics(
    ranked: Sequence[UUID], relevant: set[UUID], *, ks: Iterable[int] = KS
) -> QueryMetrics:
    """precision@k = hits in the top k / k (a short answer counts its empty places as misses);
    recall@k = hits / relevant; nDCG@k = DCG / the ideal DCG, gains 1/log2(rank + 1)."""
    precision: dict[int, float] = {}
    recall: dict[int, float] = {}
    ndcg: dict[int, float] = {}
    for k in ks:
        top = ranked[:k]
        hits = [rank for rank, user in enumerate(top, start=1) if user in relevant]
        precision[k] = len(hits) / k
        recall[k] = len(hits) / len(relevant) if relevant else 0.0
        ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
        gained = sum(1 / math.log2(rank + 1) for rank in hits)
        ndcg[k] = gained / ideal if ideal else 0.0
    return QueryMetrics(precision=precision, recall=recall, ndcg=ndcg)


@dataclass(frozen=True, slots=True)
class SeedResult:
    """One ranker on one seed: every metric averaged over the members asked."""

    seed: int
    precision: dict[int, float]
    recall: dict[int, float]
    ndcg: dict[int, float]


def seed_result(
    seed: int, per_query: Sequence[QueryMetrics], *, ks: Iterable[int] = KS
) -> SeedResult:
    def mean(pick: Callable[[QueryMetrics], dict[int, float]], k: int) -> float:
        return statistics.fmean(pick(m)[k] for m in per_query)

    ks = tuple(ks)
    return SeedResult(
        seed=seed,
        precision={k: mean(lambda m: m.precision, k) for k in ks},
        recall={k: mean(lambda m: m.recall, k) for k in ks},
        ndcg={k: mean(lambda m: m.ndcg, k) for k in ks},
    )


# --- the rankers ----------------------------------------------------------------------------


def raw_overlap_rankings(
    user_ids: Iterable[int], public_ids: dict[int, UUID], *, limit: int
) -> dict[int, list[UUID]]:
    """The baseline: other users by the number of items shared (any relation and kind, each
    (relation, kind, item) once), then public id (as the project's ranking breaks ties);
    only users sharing something."""
    holders: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    libraries: dict[int, set[tuple[str, str, int]]] = defaultdict(set)
    rows = TasteEdge.objects.filter(user__is_active=True).values_list(
        "user_id", "relation", "kind", "track_id", "artist_id", "album_id", "genre_id"
    )
    for user, relation, kind, *items in rows:
        key = (relation, kind, next(item for item in items if item is not None))
        holders[key].add(user)
        libraries[user].add(key)
    rankings: dict[int, list[UUID]] = {}
    for user in user_ids:
        shared: dict[int, int] = defaultdict(int)
        for key in libraries[user]:
            for other in holders[key]:
                if other != user:
                    shared[other] += 1
        ordered = sorted(shared, key=lambda other: (-shared[other], public_ids[other]))
        rankings[user] = [public_ids[other] for other in ordered[:limit]]
    return rankings


async def _project_rankings(user_ids: Sequence[int], *, limit: int) -> dict[int, list[UUID]]:
    rankings: dict[int, list[UUID]] = {}
    try:
        for user in user_ids:
            page = await queries.buds_for_user(
                user_id=user, kind=None, source=BudSource.ALL, limit=limit, cursor=None
            )
            rankings[user] = [bud.user_public_id for bud in page.buds]
    finally:
        await async_driver_close()
        # The SQL backend's ORM work ran in asgiref's thread: close its connection there (the
        # evaluation's database is dropped at the end, which open sessions would prevent).
        await sync_to_async(connections.close_all)()
    return rankings


def project_rankings(user_ids: Sequence[int], *, backend: str, limit: int) -> dict[int, list[UUID]]:
    """The project's ranking through the graph interface on one backend (no SQL fallback:
    a Neo4j failure fails the evaluation)."""
    with override_settings(GRAPH_BACKEND=backend, GRAPH_FALLBACK_TO_SQL=False):
        return asyncio.run(_project_rankings(user_ids, limit=limit))


def graph_project(bolt_url: str) -> None:
    """Project the relational data into the Bolt server from scratch (``graph_rebuild``)."""
    import io

    from django.core.management import call_command

    with override_settings(NEO4J_URL=bolt_url):
        drivers_reset()
        try:
            call_command("graph_install_labels", stdout=io.StringIO())
            call_command("graph_rebuild", "--restart", stdout=io.StringIO())
        finally:
            drivers_reset()


# --- the evaluation -------------------------------------------------------------------------


@dataclass(slots=True)
class Evaluation:
    """Per ranker (``project on <backend>`` or the baseline), one result per seed; and per
    backend other than SQL, how many answers were identical to SQL's."""

    config: PlantedConfig
    seeds: list[int]
    results: dict[str, list[SeedResult]] = field(default_factory=dict)
    agreement: dict[str, tuple[int, int]] = field(default_factory=dict)
    queries: int = 0


class _Laps:
    """How long each step of one seed took, for the progress line."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.started = time.monotonic()

    def lap(self, what: str) -> None:
        now = time.monotonic()
        self.done.append(f"{what} {now - self.started:.1f} s")
        self.started = now


def evaluate(
    config: PlantedConfig,
    *,
    seeds: Sequence[int],
    backends: dict[str, str | None],
    report: Callable[[str], None] = lambda line: None,
) -> Evaluation:
    """Build the world in the (empty) database, then for each seed draw the tastes and rank
    every member with each backend and the baseline.

    ``backends`` maps a backend name (``sql``, ``neo4j``) to its Bolt URL (None for SQL).
    """
    limit = max(KS)
    evaluation = Evaluation(config=config, seeds=list(seeds))
    world = planted_world_create(config)
    members = world.members
    for seed in seeds:
        laps = _Laps()
        lap = laps.lap
        planted_tastes_write(world, config, seed=seed)
        evaluation.queries += len(members)
        answers: dict[str, dict[int, list[UUID]]] = {
            BASELINE: raw_overlap_rankings(members, world.public_ids, limit=limit)
        }
        lap("tastes and baseline")
        for backend, bolt_url in backends.items():
            if bolt_url is not None:
                graph_project(bolt_url)
                lap(f"{backend} projection")
                with override_settings(NEO4J_URL=bolt_url):
                    drivers_reset()
                    answers[f"{PROJECT} on {backend}"] = project_rankings(
                        members, backend=backend, limit=limit
                    )
                drivers_reset()
            else:
                answers[f"{PROJECT} on {backend}"] = project_rankings(
                    members, backend=backend, limit=limit
                )
            lap(f"{backend} ranking")
        sql_answers = answers.get(f"{PROJECT} on sql")
        for name, ranked in answers.items():
            per_query = [ranking_metrics(ranked[user], world.relevant(user)) for user in members]
            evaluation.results.setdefault(name, []).append(seed_result(seed, per_query))
            backend = name.removeprefix(f"{PROJECT} on ")
            if sql_answers is not None and name.startswith(PROJECT) and backend != "sql":
                same, total = evaluation.agreement.get(backend, (0, 0))
                agreed = sum(1 for user in members if ranked[user] == sql_answers[user])
                evaluation.agreement[backend] = (same + agreed, total + len(members))
        report(
            f"seed {seed}: {len(members)} members ranked by {', '.join(answers)} "
            f"({', '.join(laps.done)})"
        )
    return evaluation


def evaluation_table(evaluation: Evaluation) -> list[str]:
    """The table: per ranker and k, each metric's mean over the seeds and its worst seed."""
    lines = [
        f"{'ranker':<20} {'k':>3}  {'precision':>15}  {'recall':>15}  {'nDCG':>15}",
        f"{'':<20} {'':>3}  {'mean':>7} {'worst':>7}  {'mean':>7} {'worst':>7}  "
        f"{'mean':>7} {'worst':>7}",
    ]
    for name, results in evaluation.results.items():
        for k in KS:
            cells = []
            for metric in ("precision", "recall", "ndcg"):
                values = [getattr(result, metric)[k] for result in results]
                cells.append(f"{statistics.fmean(values):7.3f} {min(values):7.3f}")
            lines.append(f"{name:<20} {k:>3}  " + "  ".join(cells))
    return lines
