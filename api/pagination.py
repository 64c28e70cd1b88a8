"""Pagination shared by every list endpoint: one query schema, one page shape, one link. Cursors
are opaque: offset pages carry ``{"o": offset}`` in ``graph.cursor``; bud pages the graph's own."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Generic, Protocol, TypeVar

from django.http import HttpRequest, QueryDict
from ninja import Schema
from pydantic import Field

from api import examples
from api.examples import page_example
from graph.cursor import cursor_decode, cursor_encode
from musicbud.errors import InvalidCursor

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Deep offsets are slow to serve and no client pages that far; a tampered cursor beyond this
# would otherwise reach the database as an out-of-range integer.
MAX_OFFSET = 10_000

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class PageParams(Schema):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")
    cursor: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next` link's cursor, to read the next page.",
    )


class Page(Schema, Generic[T]):
    model_config = page_example(examples.v1_page)

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


class OffsetRows(Protocol[T_co]):
    """A list read: up to ``limit + 1`` rows from ``offset`` (the extra one says there is a next
    page). Selectors take the two as keywords: ``partial(selector, **filters)`` is one."""

    def __call__(self, *, offset: int, limit: int) -> Awaitable[Sequence[T_co]]: ...


async def offset_page(
    request: HttpRequest, params: PageParams, rows: OffsetRows[T]
) -> dict[str, object]:
    """One page of an offset-paginated list, read by ``rows``."""
    offset, limit = _offset(params.cursor), params.limit
    fetched = await rows(offset=offset, limit=limit)
    has_more = len(fetched) > limit and offset + limit <= MAX_OFFSET
    cursor = cursor_encode({"o": offset + limit}) if has_more else None
    return {"items": list(fetched[:limit]), "next": next_link(request, cursor)}


# Keyset pages of rows with growing ids, newest first: the cursor is the id to go below.
# New rows arriving between two pages never shift the next one.
MAX_ROW_ID = 2**63 - 1


def _before(cursor: str | None) -> int | None:
    """The id a newest-first page continues below (None without a cursor); malformed: 422."""
    if not cursor:
        return None
    before = cursor_decode(cursor).get("b")
    if not isinstance(before, int) or isinstance(before, bool) or not 1 <= before <= MAX_ROW_ID:
        raise InvalidCursor
    return before


class Keyed(Protocol):
    @property
    def pk(self) -> int: ...


K_co = TypeVar("K_co", bound=Keyed, covariant=True)


class BeforeRows(Protocol[K_co]):
    """A newest-first read: up to ``limit + 1`` rows with ids below ``before`` (None: from the
    newest). ``partial(selector, **filters)`` is one, as for ``OffsetRows``."""

    def __call__(self, *, before: int | None, limit: int) -> Awaitable[Sequence[K_co]]: ...


async def before_page(
    request: HttpRequest, params: PageParams, rows: BeforeRows[Keyed]
) -> dict[str, object]:
    """One page of a newest-first list, read by ``rows``; the next page goes below its last."""
    limit = params.limit
    fetched = await rows(before=_before(params.cursor), limit=limit)
    page = list(fetched[:limit])
    cursor = cursor_encode({"b": page[-1].pk}) if len(fetched) > limit else None
    return {"items": page, "next": next_link(request, cursor)}
