"""Pagination shared by every list endpoint: one query schema, one page shape, one link. Cursors
are opaque: offset pages carry ``{"o": offset}`` in ``graph.cursor``; bud pages the graph's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar
from uuid import UUID

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
        description="A `next` or `previous` link's cursor, to read that page.",
    )


class Page(Schema, Generic[T]):
    model_config = page_example(examples.v1_page)

    items: list[T]
    count: int | None = Field(
        description=(
            "How many items the whole list holds (every page, same filters); null only where "
            "the operation's description says why it cannot be known."
        )
    )
    next: str | None = Field(
        description="Path and query of the next page (same filters), or null on the last page."
    )
    previous: str | None = Field(
        description=(
            "Path and query of the page before this one (same filters), or null on the first."
        )
    )


Counter = Callable[[], Awaitable[int]]


def _offset(cursor: str | None) -> int:
    """The offset a cursor stands for (0 without one); a malformed cursor is a 422."""
    if not cursor:
        return 0
    offset = cursor_decode(cursor).get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidCursor
    return offset


def next_link(request: HttpRequest, cursor: str | None) -> str | None:
    """The request's own path and query with ``cursor`` replaced (a next page's, or a previous
    page's read backward), or None without a cursor: no page that way."""
    if cursor is None:
        return None
    query: QueryDict = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}"


def first_link(request: HttpRequest) -> str:
    """The request's own path and query without a cursor: the list's first page."""
    query: QueryDict = request.GET.copy()
    query.pop("cursor", None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def previous_offset_link(request: HttpRequest, *, offset: int, limit: int) -> str | None:
    """The page before the one at ``offset`` (None on the first page)."""
    if offset <= 0:
        return None
    if offset <= limit:
        return first_link(request)
    return next_link(request, cursor_encode({"o": offset - limit}))


class OffsetRows(Protocol[T_co]):
    """A list read: up to ``limit + 1`` rows from ``offset`` (the extra one says there is a next
    page). Selectors take the two as keywords: ``partial(selector, **filters)`` is one."""

    def __call__(self, *, offset: int, limit: int) -> Awaitable[Sequence[T_co]]: ...


async def offset_page(
    request: HttpRequest, params: PageParams, rows: OffsetRows[T], *, count: Counter | None
) -> dict[str, object]:
    """One page of an offset-paginated list, read by ``rows``; ``count`` reads the list's
    total (None: the operation documents why it has none)."""
    offset, limit = _offset(params.cursor), params.limit
    fetched = await rows(offset=offset, limit=limit)
    has_more = len(fetched) > limit and offset + limit <= MAX_OFFSET
    cursor = cursor_encode({"o": offset + limit}) if has_more else None
    total = None
    if count is not None:
        # A first page shorter than a page is the whole list: no count query.
        last = len(fetched) <= limit and (offset == 0 or bool(fetched))
        # The last page says how many there are: no count query.
        total = offset + len(fetched) if last else await count()
    return {
        "items": list(fetched[:limit]),
        "count": total,
        "next": next_link(request, cursor),
        "previous": previous_offset_link(request, offset=offset, limit=limit),
    }


# Keyset pages of rows with growing ids, newest first, by the rows' public ids: the cursor
# names the row to go below (older) or above (newer). New rows arriving between two pages never
# shift the next one.


def _row(cursor: str | None) -> tuple[str, UUID] | None:
    """A keyset cursor: ("b", id) pages below that row (older), ("a", id) above it (newer);
    None without a cursor; malformed: 422."""
    if not cursor:
        return None
    data = cursor_decode(cursor)
    for way in ("b", "a"):
        row = data.get(way)
        if row is None:
            continue
        try:
            return way, UUID(str(row))
        except ValueError:
            raise InvalidCursor from None
    raise InvalidCursor


class Keyed(Protocol):
    @property
    def public_id(self) -> UUID: ...


K_co = TypeVar("K_co", bound=Keyed, covariant=True)


class BeforeRows(Protocol[K_co]):
    """A newest-first read: up to ``limit + 1`` rows older than the row ``before`` (None: from
    the newest), or with ``after``, the ``limit + 1`` just newer than it, oldest first.
    ``partial(selector, **filters)`` is one, as for ``OffsetRows``."""

    def __call__(
        self, *, before: UUID | None, limit: int, after: UUID | None = None
    ) -> Awaitable[Sequence[K_co]]: ...


async def before_page(
    request: HttpRequest, params: PageParams, rows: BeforeRows[Keyed]
) -> dict[str, object]:
    """One page of a newest-first list, read by ``rows``: the next page goes below its last
    row, the previous one above its first. ``count`` is null: the list grows while it is
    read (new rows arrive on top), so a total would be stale at once."""
    limit = params.limit
    position = _row(params.cursor)
    if position is not None and position[0] == "a":
        fetched = await rows(before=None, after=position[1], limit=limit)
        newer = len(fetched) > limit
        page = list(reversed(fetched[:limit]))
        older = bool(page)  # the row the cursor was taken from is older than this page
    else:
        fetched = await rows(before=position[1] if position else None, limit=limit)
        page = list(fetched[:limit])
        older = len(fetched) > limit
        newer = position is not None
    if newer and page:
        previous = next_link(request, cursor_encode({"a": str(page[0].public_id)}))
    else:
        previous = first_link(request) if newer else None
    return {
        "items": page,
        "count": None,
        "next": next_link(request, cursor_encode({"b": str(page[-1].public_id)}))
        if older
        else None,
        "previous": previous,
    }
