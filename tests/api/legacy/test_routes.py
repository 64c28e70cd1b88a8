"""Every route of the legacy contract answers at ``/`` and ``/v1/``, with and without the
trailing slash, by POST and (reads) GET, with the deprecation headers; the legacy OpenAPI
document; the switch that removes the layer."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from http import HTTPStatus
from itertools import product
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import clear_url_caches
from prometheus_client import REGISTRY

import config.urls
from musicbud.connections.providers.registry import PROVIDER_NAMES
from musicbud.services.tokens import token_pair_issue
from tests.api.legacy.conftest import DART_AGENT, LegacyWorld
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.http import bearer

pytestmark = pytest.mark.django_db

READ = ("POST", "GET")
Data = Callable[[LegacyWorld, int], dict[str, Any]]


def _none(world: LegacyWorld, variant: int) -> dict[str, Any]:
    return {}


def _bud(world: LegacyWorld, variant: int) -> dict[str, Any]:
    # Half the variants name the bud by uid, half by username.
    ana = world.world.users["ana"]
    return {"bud_id": ana.public_id.hex} if variant % 2 else {"username": "ana"}


def _item(kind: str) -> Data:
    def data(world: LegacyWorld, variant: int) -> dict[str, Any]:
        items = {**world.world.tracks, **world.world.artists}
        name = {"track": "hit", "artist": "band"}.get(kind)
        if name is None:  # no genre or album in the world: an unknown one is a 404
            return {f"{kind}_id": "0" * 32}
        return {f"{kind}_id": items[name].public_id.hex}

    return data


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...] = READ
    status: int = HTTPStatus.OK
    data: Data = _none
    successor: str | None = None
    auth: bool = True
    fresh_login: bool = False  # the call ends the login it uses
    standin: bool = False  # the streaming services' stand-in must be up


LIKED = ("artists", "tracks", "genres", "albums")
TOP = ("artists", "tracks", "genres", "anime", "manga")
V1_BUDS = "/api/v1/me/buds"

CONTRACT: list[Route] = [
    Route(
        "login/",
        ("POST",),
        data=lambda w, i: {"username": w.world.me.username, "password": DEFAULT_PASSWORD},
        successor="/api/v1/auth/login",
        auth=False,
    ),
    Route(
        "register/",
        ("POST",),
        HTTPStatus.CREATED,
        data=lambda w, i: {
            "username": f"newbie{i}",
            "email": f"newbie{i}@example.org",
            "password": "a-long-enough-passphrase",
        },
        successor="/api/v1/auth/register",
        auth=False,
    ),
    Route(
        "token/refresh",
        ("POST",),
        data=lambda w, i: {"refresh": w.tokens.refresh_token},
        successor="/api/v1/auth/refresh",
        auth=False,
    ),
    Route("logout", successor="/api/v1/auth/logout", fresh_login=True),
    Route("me/profile", successor="/api/v1/me/profile"),
    Route(
        "me/profile/set",
        ("POST",),
        data=lambda w, i: {"location": f"Town {i}"},
        successor="/api/v1/me/profile",
    ),
    Route(
        "me/profile",
        ("PUT",),
        data=lambda w, i: {"bio": f"Bio {i}"},
        successor="/api/v1/me/profile",
    ),
    *(Route(f"me/liked/{kind}", successor=f"/api/v1/me/likes/{kind}") for kind in LIKED),
    *(Route(f"me/top/{kind}", successor=f"/api/v1/me/top/{kind}") for kind in TOP),
    Route("me/played/tracks", successor="/api/v1/me/played/tracks"),
    *(
        Route(f"bud/liked/{kind}", successor=f"{V1_BUDS}?source=likes&kind={kind}")
        for kind in LIKED
    ),
    *(Route(f"bud/top/{kind}", successor=f"{V1_BUDS}?source=top&kind={kind}") for kind in TOP),
    Route("bud/played/tracks", successor=f"{V1_BUDS}?source=played&kind=tracks"),
    Route("bud/liked/aio", successor=f"{V1_BUDS}?source=likes"),
    Route("bud/artist", data=_item("artist")),
    Route("bud/track", data=_item("track")),
    Route("bud/genre", status=HTTPStatus.NOT_FOUND, data=_item("genre")),
    Route("bud/album", status=HTTPStatus.NOT_FOUND, data=_item("album")),
    *(Route(f"bud/common/liked/{kind}", data=_bud) for kind in LIKED),
    *(Route(f"bud/common/top/{kind}", data=_bud) for kind in TOP),
    Route("bud/common/played/tracks", data=_bud),
    Route("bud/profile", data=_bud),
    Route("bud/search", data=lambda w, i: {"query": "an"}, successor="/api/v1/users/search"),
    Route("users/{user_id}", successor="/api/v1/users/{username}"),
    *(Route(f"users/{{user_id}}/liked/{kind}") for kind in LIKED),
    *(Route(f"users/{{user_id}}/top/{kind}") for kind in TOP),
    Route("users/{user_id}/played/tracks"),
    Route("service/login", data=lambda w, i: {"service": "spotify"}, standin=True),
    *(
        Route(
            f"{provider}/connect",
            status=HTTPStatus.NOT_FOUND,  # not connected (yet): see test_connections.py
            successor=f"/api/v1/connections/{provider}",
            standin=True,
        )
        for provider in PROVIDER_NAMES
    ),
    *(
        Route(
            f"{provider}/callback",
            ("GET",),
            HTTPStatus.BAD_REQUEST,  # a state nobody was given
            data=lambda w, i: {"state": "forged", "code": "x", "token": "x"},
            successor=f"/api/v1/connections/{provider}/callback",
            auth=False,
            standin=True,
        )
        for provider in PROVIDER_NAMES
    ),
    Route(
        "me/likes/update",
        ("POST",),
        HTTPStatus.CONFLICT,  # nothing connected to sync
        data=lambda w, i: {"service": "lastfm"},
        standin=True,
    ),
]

MOUNTS = ("/", "/v1/")
SLASHES = ("", "/")


# The user the ``users/{user_id}`` routes name (any id: a disabled layer has no route).
USER_ID = "{user_id}"


def variants(route: Route, user_id: str = "0" * 32) -> list[tuple[str, str]]:
    """(method, URL) for every mount, slash and method."""
    canonical = route.path.strip("/").replace(USER_ID, user_id)
    return [
        (method, f"{mount}{canonical}{slash}")
        for mount, slash, method in product(MOUNTS, SLASHES, route.methods)
    ]


def legacy_sample(route: str, status: int) -> float:
    labels = {"route": route, "client": "dart", "status": str(status)}
    return REGISTRY.get_sample_value("musicbud_legacy_requests_total", labels) or 0.0


@pytest.mark.parametrize("route", CONTRACT, ids=[route.path for route in CONTRACT])
def test_every_variant_of_every_route_answers_with_the_deprecation_headers(
    legacy: LegacyWorld, route: Route, request: pytest.FixtureRequest
) -> None:
    if route.standin:
        request.getfixturevalue("standin")
    calls = variants(route, legacy.world.users["ana"].public_id.hex)
    counted_before = legacy_sample(route.path.strip("/"), route.status)

    for index, (method, url) in enumerate(calls):
        headers: dict[str, str] = {"User-Agent": DART_AGENT}
        if route.auth:
            tokens = (
                async_to_sync(token_pair_issue)(user=legacy.world.me)
                if route.fresh_login
                else legacy.tokens
            )
            headers.update(bearer(tokens.access_token))
        data = route.data(legacy, index)
        if method == "GET":
            response = legacy.client.get(url, data, headers=headers)
        else:
            response = legacy.client.generic(
                method, url, json.dumps(data), content_type="application/json", headers=headers
            )

        assert response.status_code == route.status, (method, url, response.content)
        assert response["Content-Type"].startswith("application/json")
        assert response["Deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
        assert response["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
        if route.successor is None:
            assert "Link" not in response
        else:
            assert response["Link"] == f'<{route.successor}>; rel="successor-version"'
        if route.status >= HTTPStatus.BAD_REQUEST:
            assert response.json()["success"] is False

    assert legacy_sample(route.path.strip("/"), route.status) == counted_before + len(calls)


def test_the_contract_lists_every_legacy_route() -> None:
    from api.legacy.operations import ROUTES

    assert set(ROUTES) == {route.path.strip("/") for route in CONTRACT}


def test_reads_need_a_login_and_answer_the_legacy_error(client: Client) -> None:
    response = client.post("/v1/me/profile/", headers={"User-Agent": DART_AGENT})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = response.json()
    assert body["success"] is False
    assert body["error"] is True
    assert body["code"] == "not_authenticated"
    assert body["request_id"] == response["X-Request-ID"]
    assert response["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert legacy_sample("me/profile", HTTPStatus.UNAUTHORIZED) >= 1


@pytest.mark.parametrize("method", ["DELETE", "PATCH"])
def test_other_methods_are_405_in_the_legacy_error_shape(legacy: LegacyWorld, method: str) -> None:
    response = legacy.client.generic(method, "/v1/me/profile/", headers=legacy.headers)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["success"] is False
    assert response.json()["code"] == "method_not_allowed"
    assert response["Deprecation"] == "@1796083200"


def test_the_sunset_date_comes_from_the_settings(legacy: LegacyWorld, settings: Any) -> None:
    settings.LEGACY_API_SUNSET = date(2028, 2, 29)

    response = legacy.call("POST", "/v1/me/profile/")

    assert response["Sunset"] == "Tue, 29 Feb 2028 00:00:00 GMT"


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (DART_AGENT, "dart"),
        ("okhttp/4.12.0", "android"),
        ("musicbud/2 CFNetwork/1490.0.4 Darwin/23.2.0", "ios"),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32", "python"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "browser"),
        ("HTTPie/3.2", "other"),
        ("", "none"),
    ],
)
def test_requests_are_counted_per_route_and_client_family(
    legacy: LegacyWorld, agent: str, family: str
) -> None:
    labels = {"route": "me/profile", "client": family, "status": "200"}
    before = REGISTRY.get_sample_value("musicbud_legacy_requests_total", labels) or 0.0

    legacy.call("GET", "/me/profile", headers={"User-Agent": agent})

    assert REGISTRY.get_sample_value("musicbud_legacy_requests_total", labels) == before + 1


def test_the_legacy_openapi_document_marks_every_operation_deprecated(client: Client) -> None:
    legacy_doc = client.get("/api/legacy/openapi.json").json()
    v1_doc = client.get("/api/v1/openapi.json").json()

    operations = [op for item in legacy_doc["paths"].values() for op in item.values()]
    assert len(legacy_doc["paths"]) == len({route.path for route in CONTRACT})
    assert sum(len(route.methods) for route in CONTRACT) == len(operations)
    assert all(op["deprecated"] is True for op in operations)
    assert legacy_doc["servers"] == [{"url": "/"}, {"url": "/v1"}]
    assert not any(op["operationId"].startswith("legacy_") for op in _operations(v1_doc))
    assert not set(legacy_doc["paths"]) & set(v1_doc["paths"])
    for op in operations:
        for answer in op["responses"].values():
            assert {"Deprecation", "Sunset", "Link", "X-Request-ID"} <= set(answer["headers"])
    liked = legacy_doc["paths"]["/me/liked/tracks"]
    assert [p["name"] for p in liked["get"]["parameters"]] == ["page", "page_size"]
    assert "404" in liked["post"]["responses"]
    login = legacy_doc["paths"]["/login"]["post"]["responses"]
    assert login["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }


BUD_ID_SCHEMA = {
    "description": "A uid (32 hex digits, or the dashed form), or a username.",
    "maxLength": 36,
    "minLength": 1,
    "type": "string",
    "title": "Bud Id",
}
UID_SCHEMA = {
    "description": "A public id: 32 hex digits (the dashed form is accepted on input).",
    "format": "uuid",
    "type": "string",
}


def test_the_legacy_openapi_document_states_what_each_input_needs(client: Client) -> None:
    paths = client.get("/api/legacy/openapi.json").json()["paths"]

    page, page_size = paths["/me/liked/tracks"]["get"]["parameters"]
    assert page["schema"] == {"type": "integer", "minimum": 1, "default": 1}
    assert page_size["schema"] == {"default": 10}  # any value: an unusable one is 10
    # One of two fields: in the query string as one exploded object, in a body as anyOf.
    common = paths["/bud/common/liked/tracks"]
    *_, bud = common["get"]["parameters"]
    assert (bud["name"], bud["in"], bud["style"], bud["explode"], bud["required"]) == (
        "input",
        "query",
        "form",
        True,
        True,
    )
    assert bud["schema"]["properties"]["bud_id"] == BUD_ID_SCHEMA
    assert [branch["required"] for branch in bud["schema"]["anyOf"]] == [["bud_id"], ["username"]]
    body = common["post"]["requestBody"]
    assert body["required"] is True
    as_json = body["content"]["application/json"]["schema"]
    as_form = body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert as_json["properties"]["bud_id"]["anyOf"] == [
        {"maxLength": 36, "minLength": 1, "type": "string"},
        {"type": "null"},
    ]
    assert as_form["properties"]["bud_id"] == BUD_ID_SCHEMA  # no null
    assert as_json["anyOf"] == as_form["anyOf"] == bud["schema"]["anyOf"]
    assert as_json["anyOf"][1]["properties"]["username"] == {
        "maxLength": 30,
        "minLength": 1,
        "type": "string",
        "title": "Username",
    }
    # An item's id, spelt two ways: one of two fields, as above.
    for kind in ("track", "artist", "genre", "album"):
        item = paths[f"/bud/{kind}"]
        assert [p["name"] for p in item["get"]["parameters"]] == ["page", "page_size", "input"]
        *_, item_id = item["get"]["parameters"]
        assert item_id["schema"]["properties"][f"{kind}_id"] == {
            **UID_SCHEMA,
            "title": f"{kind.title()} Id",
        }
        item_body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert [branch["required"] for branch in item_body["anyOf"]] == [
            [f"{kind}_id"],
            [f"{kind}Id"],
        ]
    # One field: a required parameter, a required property.
    *_, service = paths["/service/login"]["get"]["parameters"]
    assert (service["name"], service["required"]) == ("service", True)
    # A path parameter: another user's uid.
    [user_id] = paths["/users/{user_id}"]["get"]["parameters"]
    assert (user_id["name"], user_id["in"], user_id["required"]) == ("user_id", "path", True)
    # Nothing needed: an optional body.
    assert paths["/me/profile/set"]["post"]["requestBody"]["required"] is False
    assert paths["/logout"]["post"]["requestBody"]["required"] is False
    assert paths["/token/refresh"]["post"]["requestBody"]["required"] is True


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in doc["paths"].values() for op in item.values()]


@pytest.fixture
def legacy_disabled(settings: Any) -> Iterator[None]:
    settings.LEGACY_API_ENABLED = False
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.LEGACY_API_ENABLED = True
    importlib.reload(config.urls)
    clear_url_caches()


def test_disabled_legacy_api_has_no_routes_at_all(
    legacy: LegacyWorld, legacy_disabled: None
) -> None:
    for route in CONTRACT:
        for method, url in variants(route):
            response = legacy.call(method, url)
            assert response.status_code == HTTPStatus.NOT_FOUND, (method, url)
            assert "Deprecation" not in response
            assert "success" not in response.json()
    assert legacy.client.get("/api/legacy/openapi.json").status_code == HTTPStatus.NOT_FOUND
    assert legacy.call("GET", "/api/v1/me/profile").status_code == HTTPStatus.OK
