"""A shared cached answer's body: rendered once per equal answer, afresh for a new value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import RequestFactory
from ninja import Schema
from ninja.renderers import JSONRenderer
from pydantic import model_validator

from fastpath import rendered
from fastpath.bounded import BoundedLRU
from fastpath.rendered import rendered_response

validations: list[str] = []


@dataclass(frozen=True)
class Cached:
    name: str


class ItemOut(Schema):
    name: str


class PageOut(Schema):
    items: list[ItemOut]
    next: str | None

    @model_validator(mode="before")
    @classmethod
    def _counted(cls, data: Any) -> Any:
        validations.append("page")
        return data


def _render(answer: Any) -> dict[str, Any]:
    response = rendered_response(JSONRenderer(), RequestFactory().get("/"), PageOut, answer)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = json.loads(response.content)
    return body


def test_an_equal_answer_of_the_same_shared_value_is_rendered_once() -> None:
    validations.clear()
    items = [Cached("a"), Cached("b")]

    first = _render({"items": items, "next": "/p?cursor=x"})
    again = _render({"items": items, "next": "/p?cursor=x"})  # a new dict, equal entries

    assert first == again == {"items": [{"name": "a"}, {"name": "b"}], "next": "/p?cursor=x"}
    assert validations == ["page"]


def test_another_scalar_or_a_new_value_is_rendered_afresh() -> None:
    validations.clear()
    items = [Cached("a")]

    _render({"items": items, "next": None})
    other_link = _render({"items": items, "next": "/p?cursor=y"})
    # An equal list, but another object: a changed cache entry decodes to a new one.
    new_value = _render({"items": [Cached("c")], "next": None})

    assert other_link["next"] == "/p?cursor=y"
    assert new_value == {"items": [{"name": "c"}], "next": None}
    assert validations == ["page", "page", "page"]


def test_the_bodies_kept_are_bounded_by_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    small = rendered_response(
        JSONRenderer(), RequestFactory().get("/"), PageOut, {"items": [], "next": None}
    )
    bodies: BoundedLRU[Any, Any] = BoundedLRU(max_entries=100, max_size=len(small.content) * 2)
    monkeypatch.setattr(rendered, "_bodies", bodies)
    answers: list[dict[str, Any]] = [{"items": [], "next": None, "n": n} for n in range(3)]
    validations.clear()

    for answer in answers:
        _render(answer)
    _render(answers[2])  # still kept
    _render(answers[0])  # dropped for the third: rendered again

    assert validations == ["page", "page", "page", "page"]
    assert len(bodies) == 2
