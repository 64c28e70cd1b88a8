"""Input no real client sends is refused with a 4xx envelope before it reaches the database."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.models import Artist, User
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "NUL characters are not allowed in the path, query or body"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users/search?q=%00",
        "/api/v1/catalogue/tracks?q=a%00b",
        "/api/v1/users/a%00b",
        "/api/v1/me/buds/a%00b/common",
    ],
)
def test_nul_in_path_or_query_is_a_400_envelope(api_client: Client, url: str) -> None:
    # PostgreSQL text cannot hold U+0000: these used to be 500s there (SQLite matched all).
    assert_envelope(api_client.get(url), HTTPStatus.BAD_REQUEST, "bad_request", NUL_MESSAGE)


def test_nul_in_a_json_body_is_refused_and_nothing_changes(api_client: Client, user: User) -> None:
    response = api_client.patch(
        reverse("api-v1:my-profile"),
        json.dumps({"bio": "x\u0000y"}),
        content_type="application/json",
    )

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", NUL_MESSAGE)
    user.refresh_from_db()
    assert user.bio == ""


def test_nul_in_an_import_creates_nothing(api_client: Client) -> None:
    document = {"likes": [{"kind": "artist", "name": "Nul\u0000Band"}]}

    response = api_client.post(
        reverse("api-v1:taste-import"), json.dumps(document), content_type="application/json"
    )

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", NUL_MESSAGE)
    assert Artist.objects.count() == 0


def test_an_escaped_backslash_before_u0000_is_ordinary_text(api_client: Client, user: User) -> None:
    # The JSON text "x\\u0000y" is the six characters \u0000 spelled out, not a NUL.
    response = api_client.patch(
        reverse("api-v1:my-profile"), '{"bio": "x\\\\u0000y"}', content_type="application/json"
    )

    assert response.status_code == HTTPStatus.OK
    user.refresh_from_db()
    assert user.bio == "x\\u0000y"
