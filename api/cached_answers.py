"""Operations that answer from shared cached values, declared with one decorator: their cache
reads go ahead with the rate limit's counter, and their bodies are rendered once per answer."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import ConfigError
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from ninja.utils import contribute_operation_callback
from pydantic import BaseModel

from fastpath.read_ahead import ReadsAhead, reads_ahead
from fastpath.rendered import rendered_response

Handler = Callable[..., Awaitable[Any]]
# Ninja's default, which every NinjaAPI of the project renders with (tests compare the bytes).
RENDERER = JSONRenderer()


def cached_answer(reads: ReadsAhead) -> Callable[[Handler], Handler]:
    """An async operation whose answer is made of shared cached values (immutable by contract,
    as ``cached_query(..., shared=True)`` returns them), plus dicts and scalars around them.

    ``reads(request, **operation_kwargs)`` names the cache reads the operation makes: the
    standard rate limit sends them with its counter, so a warm read costs no round trip of its
    own. With ``FAST_PATH`` the body is rendered once per equal answer under the operation's
    ``response`` schema (``fastpath.rendered``); without, Ninja renders it as usual. The view
    stays a plain one (parse, call the selector, return the data); put this under the
    router's decorator.
    """

    def decorate(view: Handler) -> Handler:
        contribute_operation_callback(view, _rendered_once)
        return reads_ahead(reads)(view)

    return decorate


def _rendered_once(operation: Operation) -> None:
    """Called by Ninja as it makes each operation of the view (its signature already read):
    the operation's view answers through ``fastpath.rendered`` under its own 200 schema."""
    model = operation.response_models.get(200)
    if model is None or not hasattr(model, "model_fields"):
        raise ConfigError(f"{operation.view_func.__qualname__}: a cached answer needs a schema")
    # Ninja wraps the schema in a model of one field, "response".
    schema: type[BaseModel] = model.model_fields["response"].annotation
    view = operation.view_func

    @functools.wraps(view)
    async def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        answer = await view(request, *args, **kwargs)
        if not settings.FAST_PATH:
            return answer
        return rendered_response(RENDERER, request, schema, answer)

    operation.view_func = answered
