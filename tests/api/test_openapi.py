"""The OpenAPI document at /api/v1/openapi.json, walked whole: what every operation declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        schema = document["components"]["schemas"][name]
    return schema


def _open_objects(
    document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]
) -> Iterator[str]:
    """Every object schema under ``schema`` that does not refuse unknown properties."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen.add(schema["$ref"])
        where = schema["$ref"].rpartition("/")[2]
        schema = _resolve(document, schema)
    if schema.get("type") == "object" and "properties" in schema:
        if schema.get("additionalProperties") is not False:
            yield where
        for name, sub in schema["properties"].items():
            yield from _open_objects(document, sub, f"{where}.{name}", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            yield from _open_objects(document, sub, where, seen)
    if "items" in schema:
        yield from _open_objects(document, schema["items"], f"{where}[]", seen)


def test_every_request_body_refuses_unknown_fields(document: dict[str, Any]) -> None:
    open_bodies = {
        name: where
        for name, operation in operations(document)
        for content in operation.get("requestBody", {}).get("content", {}).values()
        for where in _open_objects(document, content["schema"], name, set())
    }

    assert open_bodies == {}, "body schemas must subclass api.schemas.InputSchema"
    assert any("requestBody" in operation for _, operation in operations(document))
