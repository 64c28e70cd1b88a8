"""The base of every request-body schema: a JSON object carrying only the fields it names."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class InputSchema(Schema):
    """Subclass this for every body an operation reads.

    ``extra="forbid"`` refuses unknown fields (a typo must not be silently dropped) and also
    makes Ninja validate the raw JSON value, so a body that is not an object (``"AAA"``,
    ``null``, ``[]``, ``0``) is a 422 instead of an empty object read by attribute. The
    OpenAPI document says so with ``additionalProperties: false``.
    """

    model_config = ConfigDict(extra="forbid")
