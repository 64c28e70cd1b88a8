"""Response bodies rendered once per shared cached answer (``musicbud.cache``'s shared decoding):
validated and serialised on first use only (follows django-ninja 1.7's ``ninja/operation.py``,
``Operation._result_to_response``, for a plain 200 result)."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from pydantic import BaseModel

# (id(value), schema, vary) -> (value, body). The value is kept, so its id cannot be reused
# while the entry exists, and compared by identity on lookup. Bounded; per process.
_BODIES_MAX = 256
_bodies: OrderedDict[tuple[int, type[BaseModel], Hashable], tuple[Any, bytes]] = OrderedDict()


def rendered_response(
    api: NinjaAPI,
    request: HttpRequest,
    schema: type[BaseModel],
    value: Any,
    *,
    vary: Hashable = None,
    build: Callable[[Any], Any] | None = None,
) -> HttpResponse:
    """What ``api`` answers (200) for ``build(value)`` (default: ``value``) under
    ``response=schema``, the body rendered once per (value object, schema, ``vary``).

    Only for values that are never modified (a shared cached answer): a new object is
    rendered afresh, so a changed cache entry (new bytes, so a new object) shows at once.
    ``vary`` holds whatever else ``build`` puts in the body (a next-page link); the schema
    must not depend on the request otherwise.
    """
    memo_key = (id(value), schema, vary)
    entry = _bodies.get(memo_key)
    if entry is not None and entry[0] is value:
        body = entry[1]
    else:
        # The steps of Ninja's Operation._result_to_response for a plain result.
        context = {"request": request, "response_status": 200}
        data = build(value) if build is not None else value
        validated = schema.model_validate(data, context=context)
        body = api.create_response(
            request, validated.model_dump(context=context), status=200
        ).content
        _bodies[memo_key] = (value, body)
        if len(_bodies) > _BODIES_MAX:
            with contextlib.suppress(KeyError):  # another thread's loop evicted it first
                _bodies.popitem(last=False)
    return HttpResponse(body, status=200, content_type=api.get_content_type())
