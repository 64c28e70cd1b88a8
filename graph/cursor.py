"""Opaque page cursors, one codec for every list: a small JSON object in URL-safe base64
(graph pages and the API's offset pages alike)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from musicbud.errors import InvalidCursor


def cursor_encode(fields: Mapping[str, object]) -> str:
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> dict[str, Any]:
    """The fields a cursor carries; InvalidCursor (a 422) for anything this codec did not make."""
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor from exc
    if not isinstance(data, dict):
        raise InvalidCursor
    return data


# Keyset cursors read forward (the rows after their key) or backward (the rows just before
# it): "d" is "b" for backward; a cursor without it (issued before cursors had a direction)
# reads forward.
def keyset_cursor_encode(fields: Mapping[str, object], *, backward: bool = False) -> str:
    return cursor_encode({**fields, "d": "b"} if backward else fields)


def keyset_cursor_decode(cursor: str) -> tuple[dict[str, Any], bool]:
    """The fields a keyset cursor carries, and whether it reads backward."""
    data = cursor_decode(cursor)
    direction = data.pop("d", "f")
    if direction not in ("f", "b"):
        raise InvalidCursor
    return data, direction == "b"
