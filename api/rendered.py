"""Answers for shared cached values: rendered once by the fast path, or by Ninja per request."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from pydantic import BaseModel

from fastpath.rendered import rendered_response


def schema_response(
    request: HttpRequest,
    schema: type[BaseModel],
    value: Any,
    *,
    vary: Hashable = None,
    build: Callable[[Any], Any] | None = None,
) -> Any:
    """What the operation returns for ``build(value)`` (default: ``value``) under
    ``response=schema``: with ``FAST_PATH`` the body rendered once per shared value (see
    ``fastpath.rendered``), else the data itself, for Ninja to validate and render."""
    if not settings.FAST_PATH:
        return build(value) if build is not None else value
    from api.api import api  # the one NinjaAPI: its renderer and content type

    return rendered_response(api, request, schema, value, vary=vary, build=build)
