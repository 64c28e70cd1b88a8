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
