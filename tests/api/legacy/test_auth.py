"""Legacy auth: credentials and tokens come from the body only; a logout ends what called it."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from musicbud.models import TokenFamily, User
from musicbud.services.tokens import token_pair_issue
from tests.api.legacy.conftest import LegacyWorld
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.http import assert_envelope, bearer

pytestmark = pytest.mark.django_db


def legacy_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = assert_envelope(response, status, code, extra={"success": False})
    return body


def _missing(response: Any) -> list[str]:
    body = legacy_error(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    return [detail["field"] for detail in body["details"]]


# --- credentials and tokens are read from the body only ---------------------------------------


@pytest.mark.parametrize("path", ["/login/", "/v1/login", "/login"])
def test_a_login_in_the_query_string_is_not_read(client: Client, user: User, path: str) -> None:
    query = urlencode({"username": user.username, "password": DEFAULT_PASSWORD})

    response = client.post(f"{path}?{query}")

    assert _missing(response) == ["body.username", "body.password"]
    assert TokenFamily.objects.count() == 0


def test_a_query_string_does_not_override_the_body(client: Client, user: User) -> None:
    # A body with a wrong password and the right one in the URL: the body is the input.
    query = urlencode({"password": DEFAULT_PASSWORD})

    response = client.post(
        f"/login/?{query}",
        {"username": user.username, "password": "wrong-password-0"},
        content_type="application/json",
    )

    legacy_error(response, HTTPStatus.UNAUTHORIZED, "invalid_credentials")
    assert TokenFamily.objects.count() == 0


def test_a_registration_in_the_query_string_is_not_read(client: Client) -> None:
    query = urlencode(
        {"username": "newbie", "email": "newbie@example.org", "password": "a-long-passphrase-1"}
    )

    response = client.post(f"/v1/register/?{query}")

    assert _missing(response) == ["body.username", "body.email", "body.password"]
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize("name", ["refresh", "refresh_token"])
def test_a_refresh_token_in_the_query_string_is_not_read(legacy: LegacyWorld, name: str) -> None:
    query = urlencode({name: legacy.tokens.refresh_token})

    response = legacy.client.post(f"/v1/token/refresh?{query}")

    assert _missing(response) == ["body.refresh"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_logout_does_not_revoke_the_token_named_in_the_query_string(
    legacy: LegacyWorld, method: str
) -> None:
    other = async_to_sync(token_pair_issue)(user=legacy.world.me)
    query = urlencode({"refresh": other.refresh_token})

    response = legacy.call(method, f"/v1/logout?{query}")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"message": "Logged out successfully"}
    still = legacy.client.get(reverse("api-v1:auth-me"), headers=bearer(other.access_token))
    assert still.status_code == HTTPStatus.OK
    ended = legacy.client.get(reverse("api-v1:auth-me"), headers=legacy.headers)
    assert ended.status_code == HTTPStatus.UNAUTHORIZED


def test_a_logout_still_revokes_the_refresh_token_in_its_body(legacy: LegacyWorld) -> None:
    other = async_to_sync(token_pair_issue)(user=legacy.world.me)

    response = legacy.call("POST", "/v1/logout", {"refresh": other.refresh_token})

    assert response.status_code == HTTPStatus.OK
    revoked = legacy.client.get(reverse("api-v1:auth-me"), headers=bearer(other.access_token))
    assert_envelope(revoked, HTTPStatus.UNAUTHORIZED, "token_revoked")


# --- a logout ends the session it was called with ---------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/logout", "/v1/logout/"])
def test_a_logout_with_a_session_ends_that_session(user: User, method: str, path: str) -> None:
    client = Client()
    client.force_login(user)
    profile = reverse("api-v1:my-profile")
    assert client.get(profile).status_code == HTTPStatus.OK
    other = Client()
    other.force_login(user)  # another browser of the same user

    response = client.generic(method, path)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"message": "Logged out successfully"}
    assert response.cookies["sessionid"].value == ""
    assert_envelope(client.get(profile), HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert Session.objects.count() == 1
    assert other.get(profile).status_code == HTTPStatus.OK
