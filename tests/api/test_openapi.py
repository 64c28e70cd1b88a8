"""The OpenAPI document at /api/v1/openapi.json, walked whole: what every operation declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from django.test import Client

from api.api import api
from api.legacy.api import _legacy_document

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


def _expected_errors(method: str, operation: dict[str, Any]) -> set[int]:
    """The rule the document must follow, stated independently of api/openapi.py."""
    expected = {429, 503}
    if operation.get("security"):
        expected |= {401} | ({403} if method != "get" else set())
    locations = {parameter["in"] for parameter in operation.get("parameters", ())}
    if locations or "requestBody" in operation:
        expected |= {400, 422}
    if "path" in locations:
        expected.add(404)
    if "requestBody" in operation:
        expected |= {413, 415}
    return expected


def test_every_operation_lists_its_errors_with_the_envelope_and_headers(
    document: dict[str, Any],
) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    problems: list[str] = []
    for name, operation in operations(document):
        method = name.split()[0].lower()
        responses = {int(status): answer for status, answer in operation["responses"].items()}
        missing = _expected_errors(method, operation) - set(responses)
        if missing:
            problems.append(f"{name}: no {sorted(missing)}")
        for status, answer in responses.items():
            headers = answer.get("headers", {})
            required = {header for header, spec in headers.items() if spec.get("required")}
            if "X-Request-ID" not in required:
                problems.append(f"{name} {status}: no required X-Request-ID")
            if not {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(headers):
                problems.append(f"{name} {status}: no rate-limit headers")
            if status < 400 and "RateLimit-Remaining" not in required:
                problems.append(f"{name} {status}: rate-limit headers not required")
            if status in (429, 503) and "Retry-After" not in required:
                problems.append(f"{name} {status}: no required Retry-After")
            if status >= 400 and answer.get("content") != {
                "application/json": {"schema": envelope}
            }:
                problems.append(f"{name} {status}: not the error envelope")

    assert problems == []
    assert sum(1 for _ in operations(document)) >= 24


def test_the_envelope_schema_matches_a_real_error(client: Client, document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ErrorEnvelope"]

    body = client.get("/api/v1/me/profile").json()

    assert set(schema["required"]) <= set(body) <= set(schema["properties"])
    assert body["error"] is schema["properties"]["error"]["const"]
    assert body["status_code"] == 401


# --- documented for an app developer ----------------------------------------------------------

DOCUMENTS = ("/api/v1/openapi.json", "/api/legacy/openapi.json")


def _generated_summary(operation: dict[str, Any]) -> bool:
    """Whether the summary is Ninja's fallback, the view function's name in title case
    (``my_profile`` → "My Profile"), which the operation id ends with."""
    name = operation["summary"].lower().replace(" ", "_")
    operation_id: str = operation.get("operationId", "")
    return operation_id == name or operation_id.endswith(f"_{name}")


def _example_problem(document: dict[str, Any], media: dict[str, Any]) -> str | None:
    if "example" not in media:
        return "no example answer"
    # The document's components at the root, so the schema's "#/components/..." refs resolve.
    schema = {**media["schema"], "components": document["components"]}
    errors = [
        f"{'/'.join(map(str, error.instance_path)) or '(root)'}: {error.message}"
        for error in jsonschema_rs.validator_for(schema).iter_errors(media["example"])
    ]
    return f"example does not match the schema ({'; '.join(errors)})" if errors else None


def documentation_problems(document: dict[str, Any]) -> list[str]:
    """Every operation without a written summary, a description, its error answers or an
    example of each answer with a body (one that matches its schema), one line each."""
    problems = []
    for name, operation in operations(document):
        summary = (operation.get("summary") or "").strip()
        if not summary:
            problems.append(f"{name}: no summary")
        elif _generated_summary(operation):
            problems.append(f"{name}: the summary {summary!r} is the function's name")
        if not (operation.get("description") or "").strip():
            problems.append(f"{name}: no description")
        statuses = {int(status) for status in operation["responses"]}
        if not {status for status in statuses if status >= 400}:
            problems.append(f"{name}: no error answers")
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                continue
            for media_type, media in answer.get("content", {}).items():
                problem = _example_problem(document, media)
                if problem:
                    problems.append(f"{name} {status} {media_type}: {problem}")
    return problems


@pytest.mark.parametrize("url", DOCUMENTS)
def test_every_operation_has_a_summary_description_errors_and_an_example(
    client: Client, url: str
) -> None:
    """Routes are added in parallel: this is what keeps each one documented."""
    document = client.get(url).json()

    problems = documentation_problems(document)

    if problems:
        pytest.fail(
            f"{len(problems)} gaps in {url} (see api/README.md, 'Documenting an operation'):\n"
            + "\n".join(problems),
            pytrace=False,
        )
    assert sum(1 for _ in operations(document)) >= 24


def test_the_walk_names_each_gap() -> None:
    # The control: a document with one operation of each kind of gap.
    item = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    document = {
        "components": {"schemas": {"Item": item}},
        "paths": {
            "/a": {
                "get": {
                    "operationId": "api_things_router_list_things",
                    "summary": "List Things",
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"},
                                    "example": {"id": "seven"},
                                }
                            }
                        }
                    },
                },
                "post": {
                    "operationId": "api_things_router_add",
                    "summary": "Add a thing",
                    "description": "Adds one.",
                    "responses": {
                        "201": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            }
                        },
                        "422": {"description": "Unprocessable Content"},
                    },
                },
            }
        },
    }

    assert documentation_problems(document) == [
        "GET /a: the summary 'List Things' is the function's name",
        "GET /a: no description",
        "GET /a: no error answers",
        'GET /a 200 application/json: example does not match the schema (id: "seven" is not '
        'of type "integer")',
        "POST /a 201 application/json: no example answer",
    ]


def test_each_document_is_built_once_per_process(client: Client) -> None:
    first = client.get("/api/v1/openapi.json")
    built = api.get_openapi_schema(path_params={})
    second = client.get("/api/v1/openapi.json")
    client.get("/api/legacy/openapi.json")
    legacy_before = _legacy_document.cache_info()
    client.get("/api/legacy/openapi.json")
    legacy_after = _legacy_document.cache_info()

    # The object served is the one built first, and the next request served it again.
    assert api.get_openapi_schema(path_params={}) is built
    assert first.json() == second.json()
    assert (legacy_after.hits - legacy_before.hits, legacy_after.misses) == (1, 1)
