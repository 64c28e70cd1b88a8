"""The graph contract for relationships: both backends leave the hidden people out inside the
ranking (pages full, counts agreeing) and answer compatibility alike, equal to the formula
computed here from the edges."""

from __future__ import annotations

from collections import defaultdict

import pytest
from asgiref.sync import sync_to_async

from graph import queries
from graph.compatibility import PairFacts, compatibility, keys_to_name
from graph.scoring import Cell, cells_for
from graph.types import Bud, BudSource
from musicbud.kinds import ITEM_MODELS
from musicbud.models import TasteEdge
from tests.graph import test_contract
from tests.graph.taste_world import TasteWorld

pytestmark = pytest.mark.django_db(transaction=True)

# The contract suite's fixtures: the world on each backend (SQL, and Neo4j on the Bolt server).
backend = test_contract.backend
world = test_contract.world


def _names(buds: list[Bud]) -> list[str]:
    return [bud.username for bud in buds]


async def test_hidden_people_are_left_out_before_the_page_is_cut(world: TasteWorld) -> None:
    alice = world.users["alice"]
    whole = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=50, cursor=None
    )
    hidden_name = _names(whole.buds)[0]
    hidden = frozenset({world.users[hidden_name].pk})
    expected = [name for name in _names(whole.buds) if name != hidden_name]

    first = await queries.buds_for_user(
        user_id=alice.pk, kind=None, source=BudSource.ALL, limit=2, cursor=None, hidden=hidden
    )
    rest = await queries.buds_for_user(
        user_id=alice.pk,
        kind=None,
        source=BudSource.ALL,
        limit=50,
        cursor=first.next_cursor,
        hidden=hidden,
    )
    count = await queries.bud_count(
        user_id=alice.pk, kind=None, source=BudSource.ALL, hidden=hidden
    )

    assert len(first.buds) == 2  # a full page, not one cut short by a filter
    assert _names(first.buds) + _names(rest.buds) == expected
    assert count == len(expected) == len(whole.buds) - 1


async def test_hidden_people_leave_item_buds_and_recommendations(world: TasteWorld) -> None:
    hit = world.tracks["hit"]
    alice, bob = world.users["alice"], world.users["bob"]
    every = await queries.buds_for_item(kind="track", item_id=hit.pk, limit=50, cursor=None)
    hidden = frozenset({bob.pk})

    some = await queries.buds_for_item(
        kind="track", item_id=hit.pk, limit=50, cursor=None, hidden=hidden
    )
    count = await queries.item_bud_count(
        kind="track", item_id=hit.pk, exclude_user_id=alice.pk, hidden=hidden
    )

    assert "bob" in _names(every.buds)
    assert _names(some.buds) == [name for name in _names(every.buds) if name != "bob"]
    assert count == len([name for name in _names(some.buds) if name != "alice"])
    recommended = await queries.recommendations(
        user_id=alice.pk,
        kind="track",
        limit=50,
        hidden=frozenset(world.users[n].pk for n in ("bob", "carol", "dave", "erin", "frank")),
    )
    assert recommended == []


def _reference_facts(first: int, second: int, cells: list[Cell]) -> PairFacts:
    """The facts from the edges themselves (every holder counted, active or not)."""
    wanted = set(cells)
    libraries: dict[int, dict[Cell, set[int]]] = {first: {}, second: {}}
    holders: dict[tuple[Cell, int], set[int]] = defaultdict(set)
    users: dict[Cell, set[int]] = defaultdict(set)
    for edge in TasteEdge.objects.all():
        cell = (edge.relation, edge.kind)
        if cell not in wanted:
            continue
        item = getattr(edge, f"{edge.kind}_id")
        holders[(cell, item)].add(edge.user_id)
        users[cell].add(edge.user_id)
        if edge.user_id in libraries:
            libraries[edge.user_id].setdefault(cell, set()).add(item)
    return PairFacts(
        libraries=libraries,
        df={key: len(who) for key, who in holders.items()},
        users={cell: len(who) for cell, who in users.items()},
    )


def _reference_names(keys: set[str]) -> dict[str, tuple[str, str]]:
    names = {}
    for key in keys:
        kind, _, pk = key.partition(":")
        item = ITEM_MODELS[kind]._default_manager.get(pk=int(pk))
        names[key] = (item.name, str(item.public_id))
    return names


@pytest.mark.parametrize(
    ("one", "other"), [("alice", "bob"), ("carol", "dave"), ("alice", "frank")]
)
async def test_compatibility_matches_the_formula_and_is_symmetric(
    world: TasteWorld, one: str, other: str
) -> None:
    first, second = world.users[one].pk, world.users[other].pk

    answer = await queries.compatibility_of(first=first, second=second)
    reverse = await queries.compatibility_of(first=second, second=first)

    def expected() -> tuple[int, list[tuple[str, float]], list[str], list[str]]:
        facts = _reference_facts(first, second, cells_for(source=BudSource.ALL, kind=None))
        names = _reference_names(keys_to_name(facts, first=first, second=second))
        ref = compatibility(facts, first=first, second=second, names=names)
        return (
            ref.score,
            [(names[k][0], w) for k, w in ref.shared],
            [names[k][0] for k in ref.for_first],
            [names[k][0] for k in ref.for_second],
        )

    score, shared, for_first, for_second = await sync_to_async(expected)()
    assert answer.score == reverse.score == score
    assert [(s.item.name, s.weight) for s in answer.shared] == shared
    assert [i.name for i in answer.for_first] == for_first
    assert [i.name for i in answer.for_second] == for_second
    assert answer.for_first == reverse.for_second
    assert sorted(s.item.name for s in answer.shared) == sorted(s.item.name for s in reverse.shared)
