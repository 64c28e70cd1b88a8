"""Response bodies rendered once per shared cached answer (``musicbud.cache``'s shared decoding):
validated and serialised on first use only (follows django-ninja 1.7's ``ninja/operation.py``,
``Operation._result_to_response``, for a plain 200 result)."""

from __future__ import annotations

import datetime
from collections.abc import Hashable
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja.renderers import BaseRenderer
from pydantic import BaseModel

from fastpath.bounded import BoundedLRU

# (schema, the answer's key) -> (the objects the key names by identity, body). The objects are
# kept, so their ids cannot be reused while the entry exists, and compared by identity on
# lookup. Per process, bounded by entries and by the bodies' bytes: the objects an entry
# keeps weigh several times its body (a page of buds: ~10 KB of body, ~50 KB of objects).
_bodies: BoundedLRU[tuple[type[BaseModel], Hashable], tuple[list[Any], bytes]] = BoundedLRU(
    max_entries=256, max_size=512 * 1024
)
# Compared by value in an answer's key (immutable); anything else but a dict by identity.
_VALUES = (str, int, float, bool, type(None), UUID, Decimal, datetime.date, datetime.time)


def _answer_key(answer: Any, held: list[Any]) -> Hashable:
    """A key equal for equal answers: a dict entry by entry, scalars by value, any other object
    by identity (appended to ``held``)."""
    if type(answer) is dict:
        return tuple((name, _answer_key(value, held)) for name, value in answer.items())
    if isinstance(answer, _VALUES):
        return (type(answer), answer)
    held.append(answer)
    return id(answer)


def rendered_response(
    renderer: BaseRenderer, request: HttpRequest, schema: type[BaseModel], answer: Any
) -> HttpResponse:
    """What Ninja answers (200) for ``answer`` under ``response=schema`` with ``renderer``, the
    body rendered once per equal answer (see ``_answer_key``).

    Only for answers made of values that are never modified (shared cached values, and dicts
    and scalars around them): a new object is rendered afresh, so a changed cache entry (new
    bytes, so a new object) shows at once. The schema must not depend on the request.
    """
    held: list[Any] = []
    memo_key = (schema, _answer_key(answer, held))
    entry = _bodies.get(memo_key)
    if entry is not None and all(a is b for a, b in zip(entry[0], held, strict=True)):
        body = entry[1]
    else:
        # The steps of Ninja's Operation._result_to_response for a plain result.
        context = {"request": request, "response_status": 200}
        validated = schema.model_validate(answer, context=context)
        body = renderer.render(request, validated.model_dump(context=context), response_status=200)
        if isinstance(body, str):
            body = body.encode(renderer.charset)
        _bodies.put(memo_key, (held, body), len(body))
    content_type = f"{renderer.media_type}; charset={renderer.charset}"
    return HttpResponse(body, status=200, content_type=content_type)
