"""The graph contract: every backend gives the same ranked answers on the same taste world as a
reference computed here from the edges and the formula (SQL on the configured database, Neo4j
on the session's Bolt server)."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from graph import queries
from graph.models import ProjectionOutbox
from graph.scoring import encode_cursor
from graph.types import Bud, BudPage, BudSource
from musicbud.kinds import ITEM_MODELS
from musicbud.models import ItemKind, Relation, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_set
from tests.factories import UserFactory
from tests.graph.taste_world import TasteWorld, build_contract_world
from tooling.bud_eval import (
    PlantedConfig,
    PlantedWorld,
    planted_tastes_write,
    planted_world_create,
)

pytestmark = pytest.mark.django_db(transaction=True)

TOLERANCE = 1e-6
KIND_WEIGHT = {
    "genre": 1.0,
    "artist": 2.0,
    "album": 1.0,
    "track": 2.0,
    "anime": 2.0,
    "manga": 2.0,
}
RELATION_WEIGHT = {"like": 1.0, "top": 1.0, "played": 0.5}
KINDS = ["track", "artist", "album", "genre", "anime", "manga"]


@pytest.fixture(params=["sql", "neo4j"])
def backend(request: pytest.FixtureRequest, settings: SettingsWrapper) -> str:
    if request.param == "neo4j":
        request.getfixturevalue("neo4j_graph")
        settings.GRAPH_BACKEND = "neo4j"
        # A failure must fail the contract, not be answered by the SQL backend.
        settings.GRAPH_FALLBACK_TO_SQL = False
    else:
        settings.GRAPH_BACKEND = "sql"
    name: str = request.param
    return name


@pytest.fixture
async def world(backend: str, settings: SettingsWrapper) -> TasteWorld:
    if backend == "sql":
        return await sync_to_async(build_contract_world)()
    # Written with no graph configured, then projected by the worker: the rows wait in the
    # outbox meanwhile (the after-commit path has its own tests in test_projection.py).
    url, settings.NEO4J_URL = settings.NEO4J_URL, None
    built = await sync_to_async(build_contract_world)()
    settings.NEO4J_URL = url
    await sync_to_async(call_command)("graph_worker", "--once", stdout=io.StringIO())
    pending = await ProjectionOutbox.objects.filter(applied_at__isnull=True).acount()
    assert pending == 0
    return built


# --- the reference: the formula of graph/README.md, computed directly from the edges ----------


@dataclass(frozen=True)
class Reference:
    edges: set[tuple[int, str, str, int]]
    users: dict[int, User]
    names: dict[tuple[str, int], tuple[str, UUID]]

    def cell_sets(
        self, cells: list[tuple[str, str]]
    ) -> dict[tuple[int, tuple[str, str]], set[int]]:
        libraries: dict[tuple[int, tuple[str, str]], set[int]] = defaultdict(set)
        for user, relation, kind, item in self.edges:
            if (relation, kind) in cells:
                libraries[(user, (relation, kind))].add(item)
        return libraries

    def score_parts(self, me: int, cells: list[tuple[str, str]]) -> dict[int, dict[str, float]]:
        libraries = self.cell_sets(cells)
        active = [c for c in cells if libraries.get((me, c))]
        total = sum(RELATION_WEIGHT[r] * KIND_WEIGHT[k] for r, k in active)
        parts: dict[int, dict[str, float]] = defaultdict(dict)
        for cell in active:
            holders = {u for (u, c), items in libraries.items() if c == cell and items}
            mine = libraries[(me, cell)]
            weight = RELATION_WEIGHT[cell[0]] * KIND_WEIGHT[cell[1]] / total
            for other in holders - {me}:
                theirs = libraries[(other, cell)]
                for item in mine & theirs:
                    df = sum(1 for u in holders if item in libraries[(u, cell)])
                    stop = df > max(50, 0.02 * len(holders))
                    # 1 over the item's other holders (df counts me too); 0 for a stop item.
                    share = 0.0 if stop else 1 / (df - 1)
                    value = weight * share / math.sqrt(len(mine) * len(theirs))
                    key = f"{cell[1]}:{item}"
                    parts[other][key] = parts[other].get(key, 0.0) + value
        return parts

    def buds(self, me: int, cells: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        parts = self.score_parts(me, cells)
        rows = []
        for other, items in parts.items():
            shared = sorted(
                ((self.names[_split(k)][0], round(w, 9), k) for k, w in items.items()),
                key=lambda s: (
                    -s[1],
                    KINDS.index(s[2].split(":")[0]),
                    s[0],
                    self.names[_split(s[2])][1],
                ),
            )
            rows.append(
                (
                    self.users[other],
                    round(sum(items.values()), 9),
                    len(items),
                    # The five heaviest that weigh something.
                    [(name, weight) for name, weight, _ in shared if weight > 0][:5],
                )
            )
        # Inactive users count in the statistics above but are never buds.
        rows = [row for row in rows if row[1] > 0 and row[0].is_active]
        rows.sort(key=lambda r: (-r[1], r[0].public_id))
        return [(user.username, score, count, shared) for user, score, count, shared in rows]


def _split(key: str) -> tuple[str, int]:
    kind, _, item = key.partition(":")
    return kind, int(item)


def _cells(source: BudSource, kind: str | None) -> list[tuple[str, str]]:
    relations = {
        BudSource.LIKES: ["like"],
        BudSource.TOP: ["top"],
        BudSource.PLAYED: ["played"],
        BudSource.ALL: ["like", "top", "played"],
    }[source]
    return [(r, k) for r in relations for k in ([kind] if kind else KINDS)]


@sync_to_async
def reference() -> Reference:
    edges = {(e.user_id, e.relation, e.kind, e.item_id or 0) for e in TasteEdge.objects.all()}
    names = {
        (kind, pk): (name, public_id)
        for kind, model in ITEM_MODELS.items()
        for pk, name, public_id in model._default_manager.values_list("pk", "name", "public_id")
    }
    return Reference(edges=edges, users={u.pk: u for u in User.objects.all()}, names=names)


def flatten(buds: list[Bud]) -> list[tuple[str, float, int, list[tuple[str, float]]]]:
    return [
        (b.username, b.score, b.shared_count, [(s.item.name, s.weight) for s in b.top_shared])
        for b in buds
    ]


def assert_same(actual: list[Any], expected: list[Any]) -> None:
    """Same order and counts; scores and shared-item weights equal within the tolerance."""
    assert [row[0] for row in actual] == [row[0] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got[1] == pytest.approx(want[1], abs=TOLERANCE)
        assert got[2] == want[2]
        assert [name for name, _ in got[3]] == [name for name, _ in want[3]]
        assert [w for _, w in got[3]] == pytest.approx([w for _, w in want[3]], abs=TOLERANCE)


async def all_pages(**kwargs: Any) -> list[Bud]:
    buds: list[Bud] = []
    cursor = None
    while True:
        page: BudPage = await queries.buds_for_user(cursor=cursor, **kwargs)
        buds.extend(page.buds)
        if page.next_cursor is None:
            return buds
        cursor = page.next_cursor


# --- the contract ---------------------------------------------------------------------------


async def test_buds_for_user_match_the_formula(world: TasteWorld) -> None:
    # Every source and kind (and none) against one world: building it is most of a case's
    # cost. Every mismatch is collected, so a failure names each source, kind and user it
    # concerns.
    ref = await reference()
    mismatches = []
    for source in BudSource:
        for kind in [None, *KINDS]:
            for name in ("alice", "bob", "carol", "dave", "frank"):
                user = world.users[name]
                page = await queries.buds_for_user(
                    user_id=user.pk, kind=kind, source=source, limit=50, cursor=None
                )
                try:
                    assert page.next_cursor is None
                    assert_same(flatten(page.buds), ref.buds(user.pk, _cells(source, kind)))
                except AssertionError as mismatch:
                    mismatches.append(f"source={source} kind={kind} user={name}: {mismatch}")
    assert not mismatches, "\n".join(mismatches)


async def test_pages_walk_the_whole_ranking_once(world: TasteWorld) -> None:
    alice = world.users["alice"]
    whole = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=50, cursor=None
    )

    walked = await all_pages(user_id=alice.pk, kind=None, source=BudSource.ALL, limit=1)

    assert len(whole.buds) == 4
    assert [b.user_public_id for b in walked] == [b.user_public_id for b in whole.buds]
    assert [b.score for b in walked] == [b.score for b in whole.buds]


Fetch = Callable[[str | None], Awaitable[BudPage]]


async def walk_both_ways(fetch: Fetch) -> tuple[list[BudPage], list[BudPage]]:
    """Every page read forward from the first, and read back from the last (in order)."""
    forward = [await fetch(None)]
    while forward[-1].next_cursor is not None:
        forward.append(await fetch(forward[-1].next_cursor))
    backward = [forward[-1]]
    while backward[-1].previous_cursor is not None:
        backward.append(await fetch(backward[-1].previous_cursor))
    return forward, backward[::-1]


async def test_pages_read_back_are_the_pages_read_forward(world: TasteWorld) -> None:
    # Every page size against one world (building it is most of a case's cost); each size is
    # checked to its first failure, and every failure names its size.
    failures = []
    for limit in (1, 2, 3, 4):
        try:
            await _pages_read_back_at(world, limit)
        except AssertionError as failure:
            failures.append(f"limit={limit}: {failure}")
    assert not failures, "\n".join(failures)


async def _pages_read_back_at(world: TasteWorld, limit: int) -> None:
    for name in ("alice", "bob", "carol", "dave", "frank"):
        user = world.users[name]

        async def fetch(cursor: str | None, user_id: int = user.pk) -> BudPage:
            return await queries.buds_for_user(
                user_id=user_id, kind=None, source=BudSource.ALL, limit=limit, cursor=cursor
            )

        forward, backward = await walk_both_ways(fetch)

        # The same pages, links included: each previous link leads to the page before.
        assert backward == forward
        assert forward[0].previous_cursor is None
        assert all(page.previous_cursor is not None for page in forward[1:])
    # alice's four buds span several pages.
    alice = world.users["alice"]
    pages = await walk_both_ways(
        lambda cursor: queries.buds_for_user(
            user_id=alice.pk, kind=None, source=BudSource.ALL, limit=limit, cursor=cursor
        )
    )
    assert len(pages[0]) == math.ceil(4 / limit)


async def test_previous_links_follow_who_is_left_before_the_page(world: TasteWorld) -> None:
    alice = world.users["alice"]
    whole = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=50, cursor=None
    )
    first_bud, second_bud = [
        await User.objects.aget(public_id=bud.user_public_id) for bud in whole.buds[:2]
    ]
    page_one = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=1, cursor=None
    )
    after_first = page_one.next_cursor

    async def page(cursor: str | None, hidden: set[int]) -> BudPage:
        return await queries.buds_for_user(
            user_id=alice.pk,
            kind=None,
            source=BudSource.ALL,
            limit=1,
            cursor=cursor,
            hidden=frozenset(hidden),
        )

    # The first bud now hidden: the page after it is the first, with no previous page.
    alone = await page(after_first, {first_bud.pk})
    # The second hidden instead: the third follows the first, which is before it.
    third = await page(after_first, {second_bud.pk})
    back = await page(third.previous_cursor, {second_bud.pk})
    # Backward from the first bud: nothing, and no crash.
    nothing = await page(back.previous_cursor or _backward_at(whole.buds[0]), set())

    assert [b.username for b in alone.buds] == [whole.buds[1].username]
    assert alone.previous_cursor is None
    assert [b.username for b in third.buds] == [whole.buds[2].username]
    assert [b.username for b in back.buds] == [whole.buds[0].username]
    assert back.previous_cursor is None
    assert back.next_cursor == after_first
    assert nothing == BudPage(buds=[], next_cursor=None, previous_cursor=None)


def _backward_at(bud: Bud) -> str:
    return encode_cursor(bud.score, bud.user_public_id, backward=True)


async def test_item_pages_read_back_are_the_pages_read_forward(world: TasteWorld) -> None:
    walked = 0
    for kind, model in ITEM_MODELS.items():
        async for item in model._default_manager.all():
            for limit in (1, 2):

                async def fetch(
                    cursor: str | None, kind: str = kind, pk: int = item.pk, limit: int = limit
                ) -> BudPage:
                    return await queries.buds_for_item(
                        kind=kind, item_id=pk, limit=limit, cursor=cursor
                    )

                forward, backward = await walk_both_ways(fetch)

                assert backward == forward
                assert forward[0].previous_cursor is None
                walked = max(walked, len(forward))
    assert walked > 2  # some item has more than two pages of holders


async def test_bud_count_is_how_many_buds_the_pages_walk(world: TasteWorld) -> None:
    # Every source against one world, as above: each to its first failure, each failure named.
    ref = await reference()
    failures = []
    for source in BudSource:
        try:
            await _bud_counts_walked(world, ref, source)
        except AssertionError as failure:
            failures.append(f"source={source}: {failure}")
    assert not failures, "\n".join(failures)


async def _bud_counts_walked(world: TasteWorld, ref: Reference, source: BudSource) -> None:
    counted = []
    for name in ("alice", "bob", "carol", "dave", "frank"):
        user = world.users[name]
        for kind in (None, "track", "artist", "anime", "manga"):
            count = await queries.bud_count(user_id=user.pk, kind=kind, source=source)
            walked = await all_pages(user_id=user.pk, kind=kind, source=source, limit=1)

            assert count == len(walked) == len(ref.buds(user.pk, _cells(source, kind)))
            counted.append(count)
    assert max(counted) > 1  # some rankings span several pages


def _item_key(kind: str, pk: int) -> str:
    return f"{kind}:{pk}"


# (source, kind) pairs the common items are checked on, against one world.
COMMON_CASES: list[tuple[BudSource, str | None]] = [
    (BudSource.ALL, None),
    (BudSource.ALL, "track"),
    (BudSource.ALL, "artist"),
    (BudSource.ALL, "anime"),
    (BudSource.LIKES, "track"),
    (BudSource.LIKES, "manga"),
    (BudSource.TOP, None),
    (BudSource.TOP, "anime"),
    (BudSource.PLAYED, "track"),
]


async def test_common_items_match_the_formula(world: TasteWorld) -> None:
    ref = await reference()
    alice = world.users["alice"]
    mismatches = []
    for source, kind in COMMON_CASES:
        for name in ("bob", "carol", "dave", "frank"):
            other = world.users[name]
            parts = ref.score_parts(alice.pk, _cells(source, kind)).get(other.pk, {})
            expected = sorted(
                ((ref.names[_split(k)][0], w, _split(k)[0]) for k, w in parts.items()),
                key=lambda s: (-round(s[1], 9), KINDS.index(s[2]), s[0]),
            )

            shared = await queries.common_items(
                user_id=alice.pk, other_id=other.pk, kind=kind, source=source
            )

            try:
                assert [s.item.name for s in shared] == [name for name, _, _ in expected]
                assert [s.item.kind for s in shared] == [k for _, _, k in expected]
                assert [s.weight for s in shared] == pytest.approx(
                    [w for _, w, _ in expected], abs=TOLERANCE
                )
            except AssertionError as mismatch:
                mismatches.append(f"source={source} kind={kind} other={name}: {mismatch}")
    assert not mismatches, "\n".join(mismatches)


async def test_buds_for_item_match_the_formula(world: TasteWorld) -> None:
    ref = await reference()
    sizes: dict[tuple[int, str, str], int] = defaultdict(int)
    for user, relation, kind, _ in ref.edges:
        sizes[(user, relation, kind)] += 1
    for kind, model in ITEM_MODELS.items():
        async for item in model._default_manager.all():
            relations: dict[int, set[str]] = defaultdict(set)
            for user, relation, k, pk in ref.edges:
                if k == kind and pk == item.pk and ref.users[user].is_active:
                    relations[user].add(relation)
            expected = sorted(
                (
                    (
                        ref.users[user].username,
                        round(
                            sum(
                                RELATION_WEIGHT[r] / math.sqrt(sizes[(user, r, kind)]) for r in rels
                            )
                            / sum(RELATION_WEIGHT.values()),
                            9,
                        ),
                        ref.users[user].public_id,
                    )
                    for user, rels in relations.items()
                ),
                key=lambda row: (-row[1], row[2]),
            )

            page = await queries.buds_for_item(kind=kind, item_id=item.pk, limit=50, cursor=None)
            count = await queries.item_bud_count(kind=kind, item_id=item.pk)
            holder = page.buds[0].username if page.buds else None
            others = await queries.item_bud_count(
                kind=kind,
                item_id=item.pk,
                exclude_user_id=world.users[holder].pk if holder else world.users["alice"].pk,
            )

            assert count == len(expected)
            assert others == max(len(expected) - 1, 0)
            assert [b.username for b in page.buds] == [name for name, _, _ in expected]
            assert [b.score for b in page.buds] == pytest.approx(
                [score for _, score, _ in expected], abs=TOLERANCE
            )
            assert all(b.shared_count == 1 for b in page.buds)
            assert all(b.top_shared[0].item.public_id == item.public_id for b in page.buds)


async def test_recommendations_match_the_formula(world: TasteWorld) -> None:
    ref = await reference()
    mismatches = []
    for kind in KINDS:
        for name in ("alice", "bob", "dave"):
            me = world.users[name]
            parts = ref.score_parts(me.pk, _cells(BudSource.ALL, None))
            buds = {
                user: round(sum(items.values()), 9)
                for user, items in parts.items()
                if ref.users[user].is_active
            }
            mine = {pk for owner, _, k, pk in ref.edges if owner == me.pk and k == kind}
            holders: dict[int, set[int]] = defaultdict(set)
            for owner, _, k, pk in ref.edges:
                if owner in buds and k == kind and pk not in mine:
                    holders[pk].add(owner)
            expected = sorted(
                (
                    (ref.names[(kind, pk)][0], sum(buds[b] for b in owners), len(owners))
                    for pk, owners in holders.items()
                ),
                key=lambda row: (-round(row[1], 9), row[0]),
            )

            got = await queries.recommendations(user_id=me.pk, kind=kind, limit=50)

            try:
                assert [(r.item.name, r.liked_by) for r in got] == [(n, c) for n, _, c in expected]
                assert [r.score for r in got] == pytest.approx(
                    [s for _, s, _ in expected], abs=TOLERANCE
                )
            except AssertionError as mismatch:
                mismatches.append(f"kind={kind} user={name}: {mismatch}")
    assert not mismatches, "\n".join(mismatches)


@sync_to_async
def hit_for_everyone(world: TasteWorld, extra: int) -> None:
    for user in UserFactory.create_batch(extra):
        taste_edge_set(
            user=user, kind=ItemKind.TRACK, item=world.tracks["hit"], relation=Relation.LIKE
        )


async def test_stop_items_weigh_nothing(
    world: TasteWorld, backend: str, settings: SettingsWrapper
) -> None:
    # 55 more people like the hit: 60 of 61 users hold it, past the stop-item threshold.
    url, settings.NEO4J_URL = settings.NEO4J_URL, None
    await hit_for_everyone(world, 55)
    settings.NEO4J_URL = url
    if backend == "neo4j":
        await sync_to_async(call_command)("graph_worker", "--once", stdout=io.StringIO())
    ref = await reference()
    alice = world.users["alice"]

    page = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=50, cursor=None
    )

    assert_same(flatten(page.buds), ref.buds(alice.pk, _cells(BudSource.ALL, None)))
    assert [b.username for b in page.buds] == ["bob", "carol", "dave", "erin"]
    # The 55 who share only the stop item score 0: no buds, so not counted.
    assert await queries.bud_count(user_id=alice.pk, kind=None, source=BudSource.ALL) == 4
    bob = page.buds[0]
    # The hit is shared but weighs nothing: counted, never among the items that explain a bud.
    assert "hit" not in [s.item.name for s in bob.top_shared]
    assert all(s.weight > 0 for s in bob.top_shared)
    shared = await queries.common_items(
        user_id=alice.pk, other_id=world.users["bob"].pk, kind=None, source=BudSource.ALL
    )
    assert [(s.item.name, s.weight) for s in shared][-1] == ("hit", 0.0)
    assert bob.shared_count == len(shared)


async def test_inactive_users_and_deleted_items_are_left_out(world: TasteWorld) -> None:
    ref = await reference()
    alice, gina, deep = world.users["alice"], world.users["gina"], world.tracks["deep"]
    # Gina would be Alice's bud if she were active: she shares two niche songs.
    assert ref.score_parts(alice.pk, _cells(BudSource.ALL, None))[gina.pk]
    assert not await Track.objects.filter(name="gone").aexists()

    page = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=50, cursor=None
    )
    holders = await queries.buds_for_item(kind="track", item_id=deep.pk, limit=50, cursor=None)

    assert "gina" not in [b.username for b in page.buds]
    assert await queries.bud_count(user_id=alice.pk, kind=None, source=BudSource.ALL) == len(
        page.buds
    )
    assert sorted(b.username for b in holders.buds) == ["alice", "carol", "erin"]
    assert await queries.item_bud_count(kind="track", item_id=deep.pk) == 3
    assert "gone" not in [s.item.name for b in page.buds for s in b.top_shared]


# --- planted communities (the evaluation's world, small) ------------------------------------

PLANTED = PlantedConfig(
    communities=3,
    members=4,
    private_pool=8,
    private_picks=5,
    popular_pool=10,
    popular_picks=5,
    noise_users=8,
    noise_size=8,
    noise_popular_share=0.75,
    tail_pool=20,
    background_users=0,
)


@pytest.fixture
async def planted(backend: str, settings: SettingsWrapper) -> PlantedWorld:
    """Three small communities among hits and noise (tooling/bud_eval.py), written past the
    services as the evaluation writes them, and projected by a rebuild."""

    def build() -> PlantedWorld:
        world = planted_world_create(PLANTED)
        planted_tastes_write(world, PLANTED, seed=3)
        if backend == "neo4j":
            call_command("graph_rebuild", "--restart", stdout=io.StringIO())
        return world

    return await sync_to_async(build)()


async def test_planted_communities_rank_alike_and_as_the_formula(planted: PlantedWorld) -> None:
    ref = await reference()
    for member in planted.members:
        page = await queries.buds_for_user(
            user_id=member, kind=None, source=BudSource.ALL, limit=50, cursor=None
        )

        assert_same(flatten(page.buds), ref.buds(member, _cells(BudSource.ALL, None)))
        # The score finds the planted truth: the community first.
        top = {bud.user_public_id for bud in page.buds[: PLANTED.members - 1]}
        assert top == planted.relevant(member)
