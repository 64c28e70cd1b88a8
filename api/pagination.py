"""Cursor pagination shared by every list endpoint: one query schema, one page shape, one link.

A cursor is opaque to clients. Offset-paginated lists encode ``{"o": <offset>}`` as URL-safe
base64; the graph layer's bud pages carry the graph's own cursor string through unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Generic, TypeVar

from django.http import HttpRequest, QueryDict
from ninja import Schema
from pydantic import Field

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


def _encode(field: str, value: int) -> str:
    raw = json.dumps({field: value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str, field: str, *, low: int, high: int) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = data[field]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidCursor from exc
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidCursor
    return value


def encode_offset(offset: int) -> str:
    return _encode("o", offset)


def decode_offset(cursor: str | None) -> int:
    """The offset a cursor stands for (0 without one); a malformed cursor is a 422."""
    if not cursor:
        return 0
    return _decode(cursor, "o", low=0, high=MAX_OFFSET)


# Keyset pages of rows with growing ids, newest first: the cursor is the id to go below.
# New rows arriving between two pages never shift the next one.
MAX_ROW_ID = 2**63 - 1


def decode_before(cursor: str | None) -> int | None:
    """The id a newest-first page continues below (None without a cursor); malformed: 422."""
    if not cursor:
        return None
    return _decode(cursor, "b", low=1, high=MAX_ROW_ID)


def before_page(
    request: HttpRequest, rows: list[T], *, limit: int, row_id: Callable[[T], int]
) -> tuple[list[T], str | None]:
    """Cut a ``limit + 1`` newest-first fetch to one page; the next page goes below its last."""
    page = rows[:limit]
    cursor = _encode("b", row_id(page[-1])) if len(rows) > limit else None
    return page, next_link(request, cursor)


def next_link(request: HttpRequest, cursor: str | None) -> str | None:
    """The request's own path and query with ``cursor`` replaced, or None on the last page."""
    if cursor is None:
        return None
    query: QueryDict = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}"


def offset_page(
    request: HttpRequest, rows: list[T], *, offset: int, limit: int
) -> tuple[list[T], str | None]:
    """Cut a ``limit + 1`` fetch down to one page and link the next one when there is more."""
    has_more = len(rows) > limit and offset + limit <= MAX_OFFSET
    cursor = encode_offset(offset + limit) if has_more else None
    return rows[:limit], next_link(request, cursor)
