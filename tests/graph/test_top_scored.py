"""``top_scored``, the keyset pages every graph backend ranks through: forward and backward
cursors, the links of each page, ties, edges. No database."""

from __future__ import annotations

from uuid import UUID

import pytest

from graph.cursor import cursor_encode
from graph.scoring import Position, ScoredPage, decode_cursor, encode_cursor, top_scored
from musicbud.errors import InvalidCursor

# (user id, public id, score). Users 2, 3 and 4 tie on 0.5: their public ids order them
# 3, 4, 2. User 7 scores 0 and is never ranked.
SCORES = [
    (1, UUID(int=5), 0.9),
    (2, UUID(int=3), 0.5),
    (3, UUID(int=1), 0.5),
    (4, UUID(int=2), 0.5),
    (5, UUID(int=9), 0.3),
    (6, UUID(int=4), 0.1),
    (7, UUID(int=8), 0.0),
]
RANKING = [1, 3, 4, 2, 5, 6]
BY_USER = {user: (score, public_id) for user, public_id, score in SCORES}


def users(page: ScoredPage) -> list[int]:
    return [user for _, _, user in page.rows]


def forward_pages(limit: int, scores: list[tuple[int, UUID, float]] = SCORES) -> list[ScoredPage]:
    pages = [top_scored(scores, limit=limit, cursor=None)]
    while pages[-1].next_cursor is not None:
        pages.append(top_scored(scores, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def backward_pages(last: ScoredPage, limit: int) -> list[ScoredPage]:
    """From ``last`` back to the first page, in ranking order."""
    pages = [last]
    while pages[-1].previous_cursor is not None:
        pages.append(top_scored(SCORES, limit=limit, cursor=pages[-1].previous_cursor))
    return pages[::-1]


def at(user: int, *, backward: bool = False) -> str:
    score, public_id = BY_USER[user]
    return encode_cursor(score, public_id, backward=backward)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, [[1], [3], [4], [2], [5], [6]]),
        (2, [[1, 3], [4, 2], [5, 6]]),  # the rows fill the last page exactly
        (3, [[1, 3, 4], [2, 5, 6]]),  # the same, the tie cut between pages
        (4, [[1, 3, 4, 2], [5, 6]]),
        (6, [RANKING]),  # exactly one page
        (7, [RANKING]),
    ],
)
def test_pages_read_forward_and_back_are_the_same_pages(
    limit: int, expected: list[list[int]]
) -> None:
    forward = forward_pages(limit)
    backward = backward_pages(forward[-1], limit)

    assert [users(page) for page in forward] == expected
    # Read back from the last page, every page is the one read forward, links included.
    assert backward == forward
    assert forward[0].previous_cursor is None
    assert forward[-1].next_cursor is None
    for page in forward[1:]:
        score, public_id, _ = page.rows[0]
        assert decode_cursor(page.previous_cursor or "") == Position(
            score, public_id, backward=True
        )
    for page in forward[:-1]:
        score, public_id, _ = page.rows[-1]
        assert decode_cursor(page.next_cursor or "") == Position(score, public_id)


def test_a_backward_cursor_reads_the_rows_just_before_its_row_ties_by_public_id() -> None:
    # Before user 2 (0.5, id 3): users 4 (0.5, id 2) and 3 (0.5, id 1), then 1 (0.9).
    two = top_scored(SCORES, limit=2, cursor=at(2, backward=True))
    one = top_scored(SCORES, limit=1, cursor=at(2, backward=True))
    rest = top_scored(SCORES, limit=3, cursor=at(2, backward=True))

    assert two == ScoredPage(
        [(0.5, UUID(int=1), 3), (0.5, UUID(int=2), 4)], at(4), at(3, backward=True)
    )
    assert one == ScoredPage([(0.5, UUID(int=2), 4)], at(4), at(4, backward=True))
    # Exactly the rows before it: the first page, which has no previous page.
    assert rest == ScoredPage([(0.9, UUID(int=5), 1), *two.rows], at(4), None)


def test_a_forward_page_links_back_only_when_a_row_lies_before_it() -> None:
    # The first page's only row is gone: the page after it is now the first.
    without_first = [row for row in SCORES if row[0] != 1]

    page = top_scored(without_first, limit=2, cursor=at(1))

    assert users(page) == [3, 4]
    assert page.previous_cursor is None
    assert page.next_cursor == at(4)
    # The cursor's own row still there: it is before the page.
    assert top_scored(SCORES, limit=2, cursor=at(1)).previous_cursor == at(3, backward=True)


def test_a_short_backward_page_is_the_first_page() -> None:
    # Rows before the cursor went away: fewer than a page is left, and nothing before it.
    without_first = [row for row in SCORES if row[0] != 1]

    page = top_scored(without_first, limit=2, cursor=at(4, backward=True))

    assert page == ScoredPage([(0.5, UUID(int=1), 3)], at(3), None)


@pytest.mark.parametrize(
    "cursor",
    [None, at(1, backward=True), at(6)],
    ids=["first page", "backward from the first row", "forward from the last row"],
)
def test_empty_pages_link_nowhere(cursor: str | None) -> None:
    empty = [] if cursor is None else SCORES

    assert top_scored(empty, limit=2, cursor=cursor) == ScoredPage([], None, None)


def test_nothing_scores_above_zero() -> None:
    zero = [(7, UUID(int=8), 0.0)]

    assert top_scored(zero, limit=2, cursor=None) == ScoredPage([], None, None)
    assert top_scored(zero, limit=2, cursor=at(1, backward=True)) == ScoredPage([], None, None)


def test_a_cursor_without_a_direction_reads_forward() -> None:
    # What clients hold from before cursors had a direction.
    old = cursor_encode({"s": 0.5, "p": str(UUID(int=1))})

    page = top_scored(SCORES, limit=2, cursor=old)

    assert old == at(3)
    assert page == ScoredPage(
        [(0.5, UUID(int=2), 4), (0.5, UUID(int=3), 2)], at(2), at(4, backward=True)
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"s": 0.5, "p": str(UUID(int=1)), "d": "x"},
        {"s": 0.5, "p": str(UUID(int=1)), "d": None},
        {"s": 0.5, "p": "nope", "d": "b"},
        {"p": str(UUID(int=1)), "d": "b"},
    ],
)
def test_a_malformed_cursor_is_invalid(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidCursor):
        top_scored(SCORES, limit=2, cursor=cursor_encode(fields))
