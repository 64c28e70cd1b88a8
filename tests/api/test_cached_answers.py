"""The cached-answer decorator: each operation renders under its own schema; reads declared."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest
from django.test import RequestFactory
from ninja import Router, Schema
from ninja.errors import ConfigError

from api.cached_answers import cached_answer
from fastpath.read_ahead import CacheRead, declared_reads


class NameOut(Schema):
    name: str


class OtherOut(Schema):
    other: str


def _reads(request: HttpRequest) -> list[CacheRead]:
    return [CacheRead("profile:1")]


async def _view(request: HttpRequest) -> dict[str, Any]:
    return {"name": "x"}


async def _both(request: HttpRequest) -> dict[str, Any]:
    return {"name": "x", "other": "y"}


def test_the_reads_are_declared_for_the_rate_limiter() -> None:
    async def view(request: HttpRequest) -> dict[str, Any]:
        return {}

    assert declared_reads(view) is None
    assert declared_reads(cached_answer(_reads)(view)) is _reads


def test_an_operation_without_a_response_schema_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs a schema"):
        Router().get("/x")(cached_answer(_reads)(_view))


def test_each_operation_renders_under_its_own_schema(settings: Any) -> None:
    settings.FAST_PATH = True
    router = Router()
    answered = cached_answer(_reads)(_both)
    router.get("/name", response=NameOut)(answered)
    router.get("/other", response=OtherOut)(answered)
    request = RequestFactory().get("/")

    bodies = [
        json.loads(async_to_sync(operation.view_func)(request).content)
        for view in router.path_operations.values()
        for operation in view.operations
    ]

    assert bodies == [{"name": "x"}, {"other": "y"}]
