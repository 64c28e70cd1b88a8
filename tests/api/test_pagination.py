"""Every paged list answers a cursor it did not issue alike: 422 ``invalid_cursor``."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from tests.fixtures.http import assert_envelope
from tests.fixtures.taste import BudWorld

pytestmark = pytest.mark.django_db

# Each paged list, by URL name and the path arguments it needs from the bud world.
PAGED_LISTS: dict[str, Callable[[BudWorld], list[str]]] = {
    "my-buds": lambda world: [],
    "item-buds": lambda world: ["tracks", str(world.tracks["hit"].public_id)],
    "common-items": lambda world: ["ana"],
    "recommendations": lambda world: [],
    "catalogue-search": lambda world: ["tracks"],
    "user-search": lambda world: [],
    "my-likes": lambda world: ["tracks"],
    "my-top": lambda world: ["tracks"],
    "my-played-tracks": lambda world: [],
    "my-imports": lambda world: [],
}
# Required filters of lists that have them.
FILTERS = {"recommendations": {"kind": "tracks"}, "user-search": {"q": "a"}}


@pytest.mark.parametrize("url_name", PAGED_LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWpzb24",  # base64 of "not-json": neither codec's cursor
        "eyJvIjotMX0",  # {"o":-1}: an offset cursor out of range
        "eyJzIjoieCIsInAiOiJ5In0",  # {"s":"x","p":"y"}: a keyset cursor with bad values
    ],
)
def test_a_cursor_the_api_did_not_issue_is_422_invalid_cursor_on_every_list(
    api_client: Client, bud_world: BudWorld, url_name: str, cursor: str
) -> None:
    url = reverse(f"api-v1:{url_name}", args=PAGED_LISTS[url_name](bud_world))

    response = api_client.get(url, {**FILTERS.get(url_name, {}), "cursor": cursor})

    body = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_cursor")
    assert body["details"] == [
        {"field": "query.cursor", "message": "Invalid cursor", "type": "invalid_cursor"}
    ]


@pytest.mark.parametrize("url_name", PAGED_LISTS)
def test_every_paged_list_serves_its_first_page_without_a_cursor(
    api_client: Client, bud_world: BudWorld, url_name: str
) -> None:
    url = reverse(f"api-v1:{url_name}", args=PAGED_LISTS[url_name](bud_world))

    response = api_client.get(url, FILTERS.get(url_name, {}))

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == {"items", "count", "next", "previous"}
