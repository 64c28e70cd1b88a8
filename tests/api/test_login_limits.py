"""The login budgets on every login route (v1, legacy, admin): per account whatever the spelling,
per client address, and closed before any password is checked when the counters are down."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.hashers import get_hasher
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from musicbud.cache import close_redis_clients
from musicbud.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.django_db

WRONG = "wrong-password-0"
# Nothing listens there: every connection to the counters is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"
ADMIN_REFUSAL = (
    "Please enter the correct username and password for a staff account. Note that both "
    "fields may be case-sensitive."
)


@dataclass(frozen=True)
class LoginRoute:
    """One way in: how a login is posted, and what a refused and an accepted one answer."""

    name: str
    post: Callable[[Client, str, str, str], Any]
    refused: int
    accepted: int
    # The legacy API adds "success": false to the envelope.
    envelope_extra: dict[str, Any]


def _v1(client: Client, login: str, password: str, ip: str) -> Any:
    return client.post(
        reverse("api-v1:auth-login"),
        {"username": login, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def _legacy(client: Client, login: str, password: str, ip: str) -> Any:
    return client.post(
        "/v1/login/",
        {"username": login, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def _admin(client: Client, login: str, password: str, ip: str) -> Any:
    return client.post(
        reverse("admin:login"),
        {"username": login, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=ip,
    )


V1 = LoginRoute("v1", _v1, HTTPStatus.UNAUTHORIZED, HTTPStatus.OK, {})
LEGACY = LoginRoute("legacy", _legacy, HTTPStatus.UNAUTHORIZED, HTTPStatus.OK, {"success": False})
# The admin's login page shows its form again with an error; a login redirects.
ADMIN = LoginRoute("admin", _admin, HTTPStatus.OK, HTTPStatus.FOUND, {})
ROUTES = [V1, LEGACY, ADMIN]


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_rate_limited(response: Any, route: LoginRoute, *, limit: int) -> None:
    assert_envelope(
        response, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited", extra=route.envelope_extra
    )
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["RateLimit-Limit"] == str(limit)
    assert response["RateLimit-Remaining"] == "0"
    assert "access_token" not in response.content.decode()
    assert "sessionid" not in response.cookies


@pytest.fixture
def staff() -> User:
    return UserFactory.create(username="jess", email="jess@demo.example", is_staff=True)


# --- the admin login has the API's budgets ----------------------------------------------------


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=3)
def test_the_admin_login_is_limited_per_account_across_addresses(staff: User) -> None:
    client = Client()
    for attempt in range(3):
        refused = ADMIN.post(client, "jess", WRONG, f"10.7.0.{attempt}")
        assert refused.status_code == HTTPStatus.OK
        assert list(refused.context["form"].non_field_errors()) == [ADMIN_REFUSAL]

    blocked = ADMIN.post(client, "jess", DEFAULT_PASSWORD, "10.7.0.99")

    assert_rate_limited(blocked, ADMIN, limit=3)
    assert Session.objects.count() == 0
    assert not _signed_in(client)
    staff.refresh_from_db()
    assert staff.last_login is None


@override_settings(RATE_LIMIT_CLIENT_PER_MINUTE=3)
def test_the_admin_login_is_limited_per_address_across_accounts() -> None:
    client = Client()
    accounts = UserFactory.create_batch(4, is_staff=True)
    for account in accounts[:3]:
        assert ADMIN.post(client, account.username, WRONG, "10.7.1.1").status_code == HTTPStatus.OK

    blocked = ADMIN.post(client, accounts[3].username, DEFAULT_PASSWORD, "10.7.1.1")

    assert_rate_limited(blocked, ADMIN, limit=3)
    assert not _signed_in(client)
    elsewhere = ADMIN.post(client, accounts[3].username, DEFAULT_PASSWORD, "10.7.1.2")
    assert elsewhere.status_code == HTTPStatus.FOUND
    assert elsewhere["Location"] == reverse("admin:index")
    assert _signed_in(client)


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=3)
def test_the_admin_and_the_api_spend_one_budget_per_account(staff: User) -> None:
    client = Client()
    assert V1.post(client, "jess", WRONG, "10.7.2.1").status_code == HTTPStatus.UNAUTHORIZED
    assert LEGACY.post(client, "jess", WRONG, "10.7.2.2").status_code == HTTPStatus.UNAUTHORIZED
    assert ADMIN.post(client, "jess", WRONG, "10.7.2.3").status_code == HTTPStatus.OK

    blocked = ADMIN.post(client, "jess", DEFAULT_PASSWORD, "10.7.2.4")

    assert_rate_limited(blocked, ADMIN, limit=3)
    assert not _signed_in(client)


# --- one budget per account, however it is spelt ---------------------------------------------

# Each resolves to jess: her username in other cases (U+017F, the long s, is "S" to the
# database's case-insensitive match), her address with a fullwidth or upper-case domain.
# PostgreSQL's case-insensitive match maps U+017F (long s) to "S"; SQLite folds ASCII case
# only, so there the long s names no account (and reaches none): a case variant stands in.
LONG_S = "JE\u017f\u017f" if connection.vendor == "postgresql" else "JeSs"
SPELLINGS = ("jess", LONG_S, "jess@\uff24\uff25\uff2d\uff2f.example", "JESS@Demo.EXAMPLE")


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=4)
def test_every_spelling_of_an_account_spends_its_one_budget(staff: User, route: LoginRoute) -> None:
    client = Client()
    for number, spelling in enumerate(SPELLINGS):
        refused = route.post(client, spelling, WRONG, f"10.8.0.{number}")
        assert refused.status_code == route.refused, (spelling, refused.content)

    # A fifth spelling, from a fifth address, with the right password: the budget is spent.
    blocked = route.post(client, "Jess", DEFAULT_PASSWORD, "10.8.0.99")

    assert_rate_limited(blocked, route, limit=4)
    assert not _signed_in(client)


# Unknown, and spelt four ways that one lookup would treat as one account.
GHOST_SPELLINGS = (
    "ghost@\uff24\uff25\uff2d\uff2f.example",
    "GHOST@demo.example",
    "Ghost@DEMO.example",
    "ghost@demo.example",
)


def _answers(route: LoginRoute, spellings: tuple[str, ...], *, subnet: str) -> list[Any]:
    """Each attempt's status, error code and budget headers (what an attacker sees)."""
    client = Client()
    seen = []
    for number, spelling in enumerate((*spellings, spellings[0])):
        response = route.post(client, spelling, WRONG, f"{subnet}.{number}")
        code = response.json()["code"] if response["Content-Type"] == "application/json" else None
        seen.append(
            (
                response.status_code,
                code,
                response.get("RateLimit-Limit"),
                response.get("RateLimit-Remaining"),
            )
        )
    return seen


@pytest.mark.parametrize("route", [V1, LEGACY], ids=lambda route: route.name)
@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=4)
def test_an_unknown_account_has_a_budget_too_and_answers_as_a_known_one(
    staff: User, route: LoginRoute
) -> None:
    known = _answers(route, ("jess@demo.example", *SPELLINGS[1:]), subnet="10.9.1")
    unknown = _answers(route, GHOST_SPELLINGS, subnet="10.9.2")

    code = "invalid_credentials"
    assert known == [
        (HTTPStatus.UNAUTHORIZED, code, "4", "3"),
        (HTTPStatus.UNAUTHORIZED, code, "4", "2"),
        (HTTPStatus.UNAUTHORIZED, code, "4", "1"),
        (HTTPStatus.UNAUTHORIZED, code, "4", "0"),
        (HTTPStatus.TOO_MANY_REQUESTS, "rate_limited", "4", "0"),
    ]
    assert unknown == known


# --- the counters down: closed before the password is checked --------------------------------


@pytest.fixture
def dead_counters() -> Iterator[None]:
    """The rate-limit counters' Redis is unreachable (the cache of sessions stays up)."""
    async_to_sync(close_redis_clients)()
    with override_settings(REDIS_URL=DEAD_REDIS, RATE_LIMIT_FAIL_OPEN=True):
        yield
        async_to_sync(close_redis_clients)()


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the configured hasher verifies (Django's hashing, spied on, not replaced)."""
    hasher = type(get_hasher())
    checked: list[str] = []
    verify = hasher.verify

    def spying_verify(self: Any, password: str, encoded: str) -> bool:
        checked.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(hasher, "verify", spying_verify)
    return checked


def _comparable(response: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = dict(response.json())
    for varying in ("request_id", "timestamp"):
        body.pop(varying)
    headers = {name: response[name] for name in ("Retry-After",) if name in response}
    return response.status_code, body, headers


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_without_counters_a_right_and_a_wrong_password_answer_alike_unchecked(
    staff: User,
    route: LoginRoute,
    dead_counters: None,
    password_checks: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="musicbud.services.users")
    client = Client(raise_request_exception=False)

    wrong = route.post(client, "jess", WRONG, "10.10.0.1")
    right = route.post(client, "jess", DEFAULT_PASSWORD, "10.10.0.1")

    assert _comparable(wrong) == _comparable(right)
    assert_envelope(
        right,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "A backing service is unavailable; try again shortly",
        extra=route.envelope_extra,
    )
    assert right["Retry-After"] == "5"
    assert password_checks == []
    assert [r.getMessage() for r in caplog.records if r.name == "musicbud.services.users"] == []
    assert not _signed_in(client)
    staff.refresh_from_db()
    assert staff.last_login is None
