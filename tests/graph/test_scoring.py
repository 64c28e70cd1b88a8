"""The scoring formula's parts, computed without a database."""

from __future__ import annotations

import pytest

from graph.scoring import is_stop_item, item_weight


@pytest.mark.parametrize(
    ("users", "df", "stop"),
    [(10_000, 200, False), (10_000, 201, True), (100, 50, False), (100, 51, True), (6, 6, False)],
)
def test_stop_items_are_those_held_by_more_than_two_percent_and_fifty_users(
    users: int, df: int, stop: bool
) -> None:
    assert is_stop_item(users=users, df=df) is stop
    assert (item_weight(users=users, df=df) == 0.0) is stop


def test_items_that_weigh_nothing_are_not_top_shared() -> None:
    from uuid import UUID as _UUID

    from graph.scoring import Candidate, build_bud
    from graph.types import ItemRef

    refs = {
        key: ItemRef(kind="track", public_id=_UUID(int=index + 1), name=key)
        for index, key in enumerate(["everyone", "rare"])
    }
    bud = build_bud(
        Candidate(2, _UUID(int=9), "ana", "Ana", 0.5),
        shared={"everyone": 0.0, "rare": 0.5},
        items=refs,
    )

    assert [(shared.item.name, shared.weight) for shared in bud.top_shared] == [("rare", 0.5)]
    assert bud.shared_count == 2
