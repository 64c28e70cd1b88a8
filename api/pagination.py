"""Pagination shared by every list endpoint: one query schema, one page shape, one link. Cursors
are opaque: offset pages carry ``{"o": offset}`` in ``graph.cursor``; bud pages the graph's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from django.http import HttpRequest, QueryDict
from ninja import Schema
from pydantic import Field

from graph.cursor import cursor_decode, cursor_encode
from musicbud.errors import InvalidCursor

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Deep offsets are slow to serve and no client pages that far; a tampered cursor beyond this
# would otherwise reach the database as an out-of-range integer.
MAX_OFFSET = 10_000

T = TypeVar("T")


class PageParams(Schema):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")
    cursor: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next` link's cursor, to read the next page.",
    )


class Page(Schema, Generic[T]):
    items: list[T]
    next: str | None = Field(
        description="Path and query of the next page (same filters), or null on the last page."
    )


def _offset(cursor: str | None) -> int:
    """The offset a cursor stands for (0 without one); a malformed cursor is a 422."""
    if not cursor:
        return 0
    offset = cursor_decode(cursor).get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidCursor
    return offset


def next_link(request: HttpRequest, cursor: str | None) -> str | None:
    """The request's own path and query with ``cursor`` replaced, or None on the last page."""
    if cursor is None:
        return None
    query: QueryDict = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}"


async def offset_page(
    request: HttpRequest,
    params: PageParams,
    rows: Callable[[int, int], Awaitable[Sequence[T]]],
) -> dict[str, object]:
    """One page of an offset-paginated list: ``rows(offset, limit)`` returns up to
    ``limit + 1`` rows from ``offset`` (the extra one says there is a next page)."""
    offset, limit = _offset(params.cursor), params.limit
    fetched = await rows(offset, limit)
    has_more = len(fetched) > limit and offset + limit <= MAX_OFFSET
    cursor = cursor_encode({"o": offset + limit}) if has_more else None
    return {"items": list(fetched[:limit]), "next": next_link(request, cursor)}


# Keyset pages of rows with growing ids, newest first: the cursor is the id to go below.
# New rows arriving between two pages never shift the next one.
MAX_ROW_ID = 2**63 - 1


def decode_before(cursor: str | None) -> int | None:
    """The id a newest-first page continues below (None without a cursor); malformed: 422."""
    if not cursor:
        return None
    before = cursor_decode(cursor).get("b")
    if not isinstance(before, int) or isinstance(before, bool) or not 1 <= before <= MAX_ROW_ID:
        raise InvalidCursor
    return before


def before_page(
    request: HttpRequest, rows: list[T], *, limit: int, row_id: Callable[[T], int]
) -> tuple[list[T], str | None]:
    """Cut a ``limit + 1`` newest-first fetch to one page; the next page goes below its last."""
    page = rows[:limit]
    cursor = cursor_encode({"b": row_id(page[-1])}) if len(rows) > limit else None
    return page, next_link(request, cursor)
