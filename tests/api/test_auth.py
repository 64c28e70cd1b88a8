"""The auth endpoints and the bearer-or-session auth class, through Django's request path."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse

from musicbud.models import User
from musicbud.selectors.users import user_cache_key
from tests.factories import (
    DEFAULT_PASSWORD,
    UserFactory,
    default_password_hash,
    forged_token,
)
from tests.fixtures.asgi import HopRecorder
from tests.fixtures.http import assert_envelope, bearer

pytestmark = pytest.mark.django_db

Login = Callable[..., dict[str, Any]]

REGISTER = "api-v1:auth-register"
LOGIN = "api-v1:auth-login"
REFRESH = "api-v1:auth-refresh"
LOGOUT = "api-v1:auth-logout"
ME = "api-v1:auth-me"
PASSWORD = "api-v1:auth-password"

NEW_PASSWORD = "a-brand-new-passphrase-77"
# Every claim the project issues, each required on the way back in.
ISSUED_CLAIMS = ("sub", "typ", "jti", "fam", "pwv", "iat", "nbf", "exp", "iss", "aud")


def post(client: Client, name: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return client.post(reverse(name), body or {}, content_type="application/json", **kwargs)


def me(client: Client, token: str | None = None) -> Any:
    return client.get(reverse(ME), headers=bearer(token) if token else {})


def assert_token_rejected(response: Any, code: str) -> None:
    assert_envelope(response, HTTPStatus.UNAUTHORIZED, code)
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


# --- register ---------------------------------------------------------------------------------


def test_register_creates_an_active_user_and_returns_the_public_user(client: Client) -> None:
    response = post(
        client,
        REGISTER,
        {"username": "Lena", "email": "lena@example.org", "password": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.CREATED
    user = User.objects.get(username="Lena")
    assert response.json() == {
        "id": str(user.public_id),
        "username": "Lena",
        "display_name": "",
        "bio": "",
        "avatar_url": "",
        "date_joined": DjangoJSONEncoder().default(user.date_joined),
    }
    assert user.is_active
    assert user.email == "lena@example.org"
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(NEW_PASSWORD)


def test_register_reports_every_bad_field(client: Client) -> None:
    response = post(
        client, REGISTER, {"username": "-x", "email": "not-an-email", "password": "12345678"}
    )

    body = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    fields = [detail["field"] for detail in body["details"]]
    assert fields[:2] == ["body.username", "body.email"]
    assert set(fields[2:]) == {"body.password"}
    assert "This password is too common." in [d["message"] for d in body["details"]]
    assert "This password is entirely numeric." in [d["message"] for d in body["details"]]
    assert "12345678" not in response.content.decode()
    assert not User.objects.exists()


def test_register_rejects_a_missing_field_with_422(client: Client) -> None:
    response = post(client, REGISTER, {"username": "lena", "password": NEW_PASSWORD})

    body = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert [detail["field"] for detail in body["details"]] == ["body.email"]


def test_register_refuses_a_taken_username_case_insensitively(client: Client) -> None:
    UserFactory(username="lena", email="lena@example.org")

    response = post(
        client,
        REGISTER,
        {"username": "LENA", "email": "other@example.org", "password": NEW_PASSWORD},
    )

    assert_envelope(response, HTTPStatus.CONFLICT, "username_taken")
    assert User.objects.count() == 1


def test_register_does_not_say_an_address_is_taken(client: Client) -> None:
    # No `email_taken` oracle: the answer looks like a new account's, nothing is created, and
    # the address's owner is told by mail (tests/api/test_accounts_auth.py).
    UserFactory(username="lena", email="lena@example.org")

    response = post(
        client,
        REGISTER,
        {"username": "other", "email": "Lena@Example.ORG", "password": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["username"] == "other"
    assert User.objects.count() == 1


def test_register_refuses_a_homograph_email_domain_with_a_422(client: Client) -> None:
    UserFactory(username="demo", email="demo@demo.musicbud.invalid")
    homograph = "demo@d\u0435mo.musicbud.invalid"  # a Cyrillic "e"

    response = post(
        client, REGISTER, {"username": "impostor", "email": homograph, "password": NEW_PASSWORD}
    )

    body = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert body["details"] == [
        {
            "field": "body.email",
            "message": "The email's domain mixes scripts in 'd\u0435mo' (CYRILLIC, LATIN), "
            "so it could pass for another domain.",
            "type": "invalid",
        }
    ]
    assert list(User.objects.values_list("username", flat=True)) == ["demo"]


# --- login ------------------------------------------------------------------------------------


def test_login_returns_a_verified_token_pair(client: Client, user: User) -> None:
    response = post(client, LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "refresh_expires_in",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.JWT_ACCESS_TTL_SECONDS == 900
    assert body["refresh_expires_in"] == settings.JWT_REFRESH_TTL_SECONDS == 14 * 24 * 3600
    kid, secret = settings.JWT_KEYS[0]
    for token, typ, ttl in (
        (body["access_token"], "access", 900),
        (body["refresh_token"], "refresh", 14 * 24 * 3600),
    ):
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": kid, "typ": "JWT"}
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="musicbud-api")
        assert set(claims) == set(ISSUED_CLAIMS)
        assert claims["sub"] == str(user.pk)
        assert claims["typ"] == typ
        assert claims["nbf"] == claims["iat"]
        assert claims["iss"] == "musicbud"
        assert claims["exp"] - claims["iat"] == ttl
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    refresh = jwt.decode(body["refresh_token"], options={"verify_signature": False})
    assert access["fam"] == refresh["fam"]
    assert access["jti"] != refresh["jti"]
    assert "sessionid" not in response.cookies
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_accepts_the_email_in_any_case(client: Client) -> None:
    user = UserFactory(email="Mia@Example.org")

    response = post(client, LOGIN, {"username": "mia@example.ORG", "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    assert me(client, response.json()["access_token"]).json()["username"] == user.username


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown user", "unknown_account"),
        ("wrong password", "wrong_password"),
        ("inactive user", "inactive"),
    ],
)
def test_login_failures_all_look_the_same(
    client: Client, caplog: pytest.LogCaptureFixture, case: str, reason: str
) -> None:
    user = UserFactory.create(is_active=case != "inactive user")
    username = "nobody" if case == "unknown user" else user.username
    password = "wrong-password-123" if case == "wrong password" else DEFAULT_PASSWORD
    caplog.set_level(logging.INFO, logger="musicbud.services.users")

    response = post(client, LOGIN, {"username": username, "password": password})

    body = assert_envelope(response, HTTPStatus.UNAUTHORIZED, "invalid_credentials")
    assert body["message"] == "Invalid username or password"
    assert "access_token" not in body
    assert "sessionid" not in response.cookies
    refusals = [r for r in caplog.records if r.getMessage() == "login refused"]
    assert [r.__dict__["reason"] for r in refusals] == [reason]


def test_login_with_session_sets_a_session_cookie_that_authenticates(
    client: Client, user: User
) -> None:
    response = post(
        client, LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD, "session": True}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.cookies["sessionid"]["httponly"] is True
    session_only = me(client)
    assert session_only.status_code == HTTPStatus.OK
    assert session_only.json()["username"] == user.username


# --- the auth class ---------------------------------------------------------------------------


def test_me_with_a_bearer_token_returns_the_current_user(
    client: Client, user: User, login: Login
) -> None:
    response = me(client, login(user)["access_token"])

    assert response.status_code == HTTPStatus.OK
    user.refresh_from_db()
    assert response.json() == {
        "id": str(user.public_id),
        "username": user.username,
        "display_name": user.display_name,
        "bio": "",
        "avatar_url": "",
        "date_joined": DjangoJSONEncoder().default(user.date_joined),
        "email": user.email,
        "email_verified": False,
        "email_pending": "",
        "is_staff": False,
    }


def test_no_credentials_is_401_naming_the_bearer_scheme(client: Client) -> None:
    response = me(client)

    body = assert_envelope(response, HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert body["message"] == "Authentication required"
    assert response["WWW-Authenticate"] == "Bearer"


def _rejected_tokens(user_id: int) -> dict[str, tuple[str, str]]:
    now = int(time.time())
    kid, secret = settings.JWT_KEYS[0]
    valid = forged_token(user_id=user_id)
    tampered = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    return {
        "bad signature": (
            forged_token(user_id=user_id, key=(kid, "x" * 40)),
            "token_bad_signature",
        ),
        "tampered": (tampered, "token_bad_signature"),
        "expired": (forged_token(user_id=user_id, iat=now - 600, exp=now - 60), "token_expired"),
        "not yet valid": (
            forged_token(user_id=user_id, iat=now + 600, exp=now + 900),
            "token_not_yet_valid",
        ),
        "nbf in future": (forged_token(user_id=user_id, nbf=now + 600), "token_not_yet_valid"),
        "refresh as access": (forged_token(user_id=user_id, typ="refresh"), "token_wrong_type"),
        "unknown kid": (forged_token(user_id=user_id, key=("gone", secret)), "token_unknown_key"),
        "missing kid": (forged_token(user_id=user_id, drop_header=("kid",)), "token_unknown_key"),
        "alg none": (
            forged_token(user_id=user_id, algorithm="none"),
            "token_algorithm_not_allowed",
        ),
        "disallowed alg": (
            forged_token(user_id=user_id, algorithm="HS512"),
            "token_algorithm_not_allowed",
        ),
        "wrong issuer": (forged_token(user_id=user_id, iss="someone-else"), "token_wrong_issuer"),
        "wrong audience": (forged_token(user_id=user_id, aud="other-api"), "token_wrong_audience"),
        "garbage": ("not.a.jwt", "token_malformed"),
        "non-numeric subject": (forged_token(user_id=user_id, sub="admin"), "token_malformed"),
        "family not a uuid": (forged_token(user_id=user_id, fam="x' OR 1=1"), "token_malformed"),
        **{
            f"missing {claim}": (
                forged_token(user_id=user_id, drop=(claim,)),
                "token_claims_missing",
            )
            for claim in ISSUED_CLAIMS
        },
    }


REJECTION_CASES = [
    "bad signature",
    "tampered",
    "expired",
    "not yet valid",
    "nbf in future",
    "refresh as access",
    "unknown kid",
    "alg none",
    "disallowed alg",
    "wrong issuer",
    "wrong audience",
    "garbage",
    "non-numeric subject",
    "family not a uuid",
    "missing kid",
    *[f"missing {c}" for c in ISSUED_CLAIMS],
]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", REJECTION_CASES)
def test_an_invalid_bearer_token_is_401_with_its_reason_and_never_falls_back(
    client: Client, user: User, case: str
) -> None:
    token, code = _rejected_tokens(user.pk)[case]
    client.force_login(user)  # a valid session must not rescue an invalid token
    assert me(client).status_code == HTTPStatus.OK

    response = me(client, token)

    assert_token_rejected(response, code)


@pytest.mark.parametrize("claim", ISSUED_CLAIMS)
def test_a_live_logins_token_without_one_of_its_claims_is_refused(
    client: Client, user: User, login: Login, claim: str
) -> None:
    access = login(user)["access_token"]
    kid, secret = settings.JWT_KEYS[0]
    claims = jwt.decode(access, options={"verify_signature": False})
    del claims[claim]
    stripped = jwt.encode(claims, secret, algorithm=settings.JWT_ALGORITHM, headers={"kid": kid})
    assert me(client, access).status_code == HTTPStatus.OK  # the family is live

    assert_token_rejected(me(client, stripped), "token_claims_missing")


def test_an_rs256_token_is_refused_before_any_key_is_tried(client: Client, user: User) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "sub": str(user.pk),
        "typ": "access",
        "jti": "j",
        "fam": "f",
        "iat": now,
        "exp": now + 60,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    token = jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": "dev"})

    assert_token_rejected(me(client, token), "token_algorithm_not_allowed")


def test_an_empty_bearer_token_is_malformed(client: Client) -> None:
    response = client.get(reverse(ME), headers={"Authorization": "Bearer "})

    assert_token_rejected(response, "token_malformed")


def test_a_valid_token_of_a_deleted_user_is_refused(client: Client, login: Login) -> None:
    user = UserFactory.create()
    access = login(user)["access_token"]
    assert me(client, access).status_code == HTTPStatus.OK

    user.delete()

    assert_token_rejected(me(client, access), "token_user_deleted")


def test_an_inactive_user_with_an_unexpired_token_is_refused_on_the_next_request(
    client: Client, user: User, login: Login
) -> None:
    pair = login(user)
    assert me(client, pair["access_token"]).status_code == HTTPStatus.OK  # now cached

    user.is_active = False
    user.save()  # as the admin's change form does

    assert_token_rejected(me(client, pair["access_token"]), "user_inactive")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": pair["refresh_token"]}), "user_inactive"
    )


def test_an_inactive_users_session_is_refused(client: Client, user: User) -> None:
    client.force_login(user)
    user.is_active = False
    user.save()

    assert_envelope(me(client), HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_a_warm_bearer_request_makes_no_query(
    client: Client, user: User, login: Login, django_assert_num_queries: Any
) -> None:
    access = login(user)["access_token"]
    cache.delete(user_cache_key(user.pk))
    with django_assert_num_queries(1):  # cold: the user is loaded once ...
        assert me(client, access).status_code == HTTPStatus.OK

    with django_assert_num_queries(0):  # ... and then served from the cache
        assert me(client, access).status_code == HTTPStatus.OK


def test_admin_edits_apply_to_the_next_request(client: Client, user: User, login: Login) -> None:
    access = login(user)["access_token"]
    assert me(client, access).json()["display_name"] == user.display_name

    user.display_name = "Renamed"
    user.save()

    assert me(client, access).json()["display_name"] == "Renamed"


# --- session and CSRF -------------------------------------------------------------------------


def test_a_session_login_needs_the_csrf_token(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    body = {"username": user.username, "password": DEFAULT_PASSWORD, "session": True}

    refused = post(client, LOGIN, body)
    assert_envelope(refused, HTTPStatus.FORBIDDEN, "csrf_failed")
    assert "sessionid" not in refused.cookies

    issued = client.get(reverse("api-v1:auth-csrf"))
    assert issued.status_code == HTTPStatus.OK
    assert set(issued.json()) == {"csrf_token"}
    assert len(issued.json()["csrf_token"]) == 64  # Django's masked token
    accepted = post(client, LOGIN, body, headers={"X-CSRFToken": issued.json()["csrf_token"]})
    assert accepted.status_code == HTTPStatus.OK
    assert accepted.cookies["sessionid"].value
    # A token-only login needs no CSRF token: it sets no cookie to ride on.
    tokens_only = post(client, LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD})
    assert tokens_only.status_code == HTTPStatus.OK


def test_session_auth_requires_csrf_on_unsafe_methods(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    csrf_token = client.get(reverse("api-v1:auth-csrf")).json()["csrf_token"]
    body = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}

    assert me(client).status_code == HTTPStatus.OK  # safe method: no token needed
    without = post(client, PASSWORD, body)
    assert_envelope(without, HTTPStatus.FORBIDDEN, "csrf_failed")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)  # nothing changed

    with_token = post(client, PASSWORD, body, headers={"X-CSRFToken": csrf_token})
    assert with_token.status_code == HTTPStatus.NO_CONTENT
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert me(client).status_code == HTTPStatus.OK  # this session survives its own change


def test_bearer_requests_need_no_csrf_token(user: User, login: Login) -> None:
    client = Client(enforce_csrf_checks=True)
    access = login(user)["access_token"]

    response = post(
        client,
        PASSWORD,
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(access),
    )

    assert response.status_code == HTTPStatus.NO_CONTENT


def test_logout_through_a_session_needs_csrf(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert_envelope(post(client, LOGOUT), HTTPStatus.FORBIDDEN, "csrf_failed")
    assert me(client).status_code == HTTPStatus.OK


# --- refresh, rotation, reuse -----------------------------------------------------------------


def test_refresh_rotates_the_pair(client: Client, user: User, login: Login) -> None:
    first = login(user)

    response = post(client, REFRESH, {"refresh_token": first["refresh_token"]})

    assert response.status_code == HTTPStatus.OK
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    old = jwt.decode(first["refresh_token"], options={"verify_signature": False})
    new = jwt.decode(second["refresh_token"], options={"verify_signature": False})
    assert new["fam"] == old["fam"]
    assert me(client, second["access_token"]).status_code == HTTPStatus.OK
    assert me(client, first["access_token"]).status_code == HTTPStatus.OK  # still unexpired
    third = post(client, REFRESH, {"refresh_token": second["refresh_token"]})
    assert third.status_code == HTTPStatus.OK


def test_reusing_a_spent_refresh_token_revokes_its_whole_family(
    client: Client, user: User, login: Login
) -> None:
    stolen = login(user)
    other_login = login(user)
    rotated = post(client, REFRESH, {"refresh_token": stolen["refresh_token"]}).json()

    reuse = post(client, REFRESH, {"refresh_token": stolen["refresh_token"]})

    assert_token_rejected(reuse, "token_reused")
    assert_token_rejected(me(client, rotated["access_token"]), "token_revoked")
    assert_token_rejected(me(client, stolen["access_token"]), "token_revoked")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": rotated["refresh_token"]}), "token_revoked"
    )
    # Another login of the same user is a different family and keeps working.
    assert me(client, other_login["access_token"]).status_code == HTTPStatus.OK
    assert (
        post(client, REFRESH, {"refresh_token": other_login["refresh_token"]}).status_code
        == HTTPStatus.OK
    )


def test_an_access_token_cannot_refresh(client: Client, user: User, login: Login) -> None:
    pair = login(user)

    response = post(client, REFRESH, {"refresh_token": pair["access_token"]})

    assert_token_rejected(response, "token_wrong_type")
    assert response.json()["message"] == "This needs a refresh token"
    used_as_access = me(client, pair["refresh_token"])
    assert_token_rejected(used_as_access, "token_wrong_type")
    assert used_as_access.json()["message"] == "This needs an access token"


def test_a_refresh_token_of_an_unknown_family_is_refused(client: Client, user: User) -> None:
    token = forged_token(user_id=user.pk, typ="refresh")

    assert_token_rejected(post(client, REFRESH, {"refresh_token": token}), "token_revoked")


def test_a_session_survives_losing_the_cache(client: Client, user: User) -> None:
    client.force_login(user)
    assert me(client).status_code == HTTPStatus.OK

    cache.clear()

    response = me(client)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == user.username


def test_revocation_survives_a_restart(client: Client, user: User, login: Login) -> None:
    revoked = login(user)
    live = login(user)
    assert post(client, LOGOUT, headers=bearer(revoked["access_token"])).status_code == 204

    # A restart of a Redis that keeps nothing on disk (FLUSHDB, as django-redis clears), or
    # without Redis a restart of the process, loses every cached token state.
    cache.clear()

    assert_token_rejected(me(client, revoked["access_token"]), "token_revoked")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": revoked["refresh_token"]}), "token_revoked"
    )
    assert me(client, live["access_token"]).status_code == HTTPStatus.OK
    assert post(client, REFRESH, {"refresh_token": live["refresh_token"]}).status_code == 200


# --- logout -----------------------------------------------------------------------------------


def test_logout_with_the_refresh_token_revokes_that_family_only(
    client: Client, user: User, login: Login
) -> None:
    pair = login(user)
    other = login(user)

    response = post(client, LOGOUT, {"refresh_token": pair["refresh_token"]})

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert_token_rejected(me(client, pair["access_token"]), "token_revoked")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": pair["refresh_token"]}), "token_revoked"
    )
    assert me(client, other["access_token"]).status_code == HTTPStatus.OK


def test_logout_with_the_bearer_token_alone_revokes_its_family(
    client: Client, user: User, login: Login
) -> None:
    pair = login(user)

    response = post(client, LOGOUT, headers=bearer(pair["access_token"]))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert_token_rejected(me(client, pair["access_token"]), "token_revoked")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": pair["refresh_token"]}), "token_revoked"
    )


def test_a_warm_token_is_refused_on_the_very_next_request_after_logout(
    client: Client, user: User, login: Login
) -> None:
    pair = login(user)
    other = login(user)
    # Warm: the user is cached and the token's verification remembered.
    assert me(client, pair["access_token"]).status_code == HTTPStatus.OK
    assert me(client, pair["access_token"]).status_code == HTTPStatus.OK

    assert post(client, LOGOUT, headers=bearer(pair["access_token"])).status_code == 204

    assert_token_rejected(me(client, pair["access_token"]), "token_revoked")
    assert me(client, other["access_token"]).status_code == HTTPStatus.OK  # its own family


@override_settings(JWT_ACCESS_TTL_SECONDS=1, JWT_LEEWAY_SECONDS=0)
def test_a_remembered_token_is_refused_once_it_expires(
    client: Client, user: User, login: Login
) -> None:
    time.sleep(1 - time.time() % 1)  # claims are whole seconds: start one, so it lasts ~1 s
    access = login(user)["access_token"]
    expires_at = jwt.decode(access, options={"verify_signature": False})["exp"]
    assert me(client, access).status_code == HTTPStatus.OK  # verified and remembered

    time.sleep(max(0.0, expires_at - time.time()) + 0.05)

    assert_token_rejected(me(client, access), "token_expired")


def test_logout_ends_the_session(client: Client, user: User) -> None:
    post(client, LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD, "session": True})
    assert me(client).status_code == HTTPStatus.OK

    assert post(client, LOGOUT).status_code == HTTPStatus.NO_CONTENT

    assert_envelope(me(client), HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_logout_without_any_credentials_is_401(client: Client) -> None:
    assert_envelope(post(client, LOGOUT), HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_logout_with_an_invalid_refresh_token_is_401(client: Client, user: User) -> None:
    token = forged_token(user_id=user.pk, typ="refresh", key=("dev", "y" * 40))

    assert_token_rejected(post(client, LOGOUT, {"refresh_token": token}), "token_bad_signature")


# --- password change --------------------------------------------------------------------------


def test_password_change_revokes_every_token_of_the_user(
    client: Client, user: User, login: Login
) -> None:
    first = login(user)
    second = login(user)
    bystander = UserFactory()
    bystander_pair = login(bystander)

    response = post(
        client,
        PASSWORD,
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(first["access_token"]),
    )

    assert response.status_code == HTTPStatus.NO_CONTENT
    for pair in (first, second):
        assert_token_rejected(me(client, pair["access_token"]), "token_revoked")
        assert_token_rejected(
            post(client, REFRESH, {"refresh_token": pair["refresh_token"]}), "token_revoked"
        )
    assert me(client, bystander_pair["access_token"]).status_code == HTTPStatus.OK
    old = post(client, LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD})
    assert_envelope(old, HTTPStatus.UNAUTHORIZED, "invalid_credentials")
    fresh = login(user, password=NEW_PASSWORD)
    assert me(client, fresh["access_token"]).status_code == HTTPStatus.OK


def test_a_password_set_outside_the_api_also_revokes_every_token(
    client: Client, user: User, login: Login
) -> None:
    pair = login(user)
    assert me(client, pair["access_token"]).status_code == HTTPStatus.OK  # now cached

    user.set_password(NEW_PASSWORD)  # the admin's password form, manage.py changepassword
    user.save()

    assert_token_rejected(me(client, pair["access_token"]), "token_revoked")
    assert_token_rejected(
        post(client, REFRESH, {"refresh_token": pair["refresh_token"]}), "token_revoked"
    )
    assert me(client, login(user, password=NEW_PASSWORD)["access_token"]).status_code == 200


def test_a_token_carrying_another_password_stamp_is_refused(client: Client, user: User) -> None:
    token = forged_token(user_id=user.pk, pwv="0123456789abcdef")

    assert_token_rejected(me(client, token), "token_revoked")


def test_password_change_ends_other_sessions(user: User, login: Login) -> None:
    browser = Client()
    browser.force_login(user)
    access = login(user)["access_token"]

    response = post(
        Client(),
        PASSWORD,
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(access),
    )

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert_envelope(me(browser), HTTPStatus.UNAUTHORIZED, "not_authenticated")


@pytest.mark.parametrize(
    ("old", "new", "code", "field"),
    [
        ("wrong-password-0", NEW_PASSWORD, "wrong_password", "old_password"),
        (DEFAULT_PASSWORD, "password", "validation_error", "new_password"),
    ],
)
def test_password_change_refusals_change_nothing(
    client: Client, user: User, login: Login, old: str, new: str, code: str, field: str
) -> None:
    pair = login(user)

    response = post(
        client,
        PASSWORD,
        {"old_password": old, "new_password": new},
        headers=bearer(pair["access_token"]),
    )

    body = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, code)
    assert {detail["field"] for detail in body["details"]} == {f"body.{field}"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert me(client, pair["access_token"]).status_code == HTTPStatus.OK


# --- key rotation -----------------------------------------------------------------------------


def test_key_rotation_old_tokens_verify_while_their_key_is_listed(
    client: Client, user: User, login: Login
) -> None:
    old_key = ("k2025", "old-secret-for-tests-0123456789abcdef")
    new_key = ("k2026", "new-secret-for-tests-0123456789abcdef")
    with override_settings(JWT_KEYS=[old_key]):
        before = login(user)

    with override_settings(JWT_KEYS=[new_key, old_key]):
        assert me(client, before["access_token"]).status_code == HTTPStatus.OK
        after = login(user)
        assert jwt.get_unverified_header(after["access_token"])["kid"] == "k2026"
        rotated = post(client, REFRESH, {"refresh_token": before["refresh_token"]})
        assert rotated.status_code == HTTPStatus.OK
        assert jwt.get_unverified_header(rotated.json()["access_token"])["kid"] == "k2026"

    with override_settings(JWT_KEYS=[new_key]):
        assert_token_rejected(me(client, before["access_token"]), "token_unknown_key")
        assert me(client, after["access_token"]).status_code == HTTPStatus.OK


def _ec_pem_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_asymmetric_keys_sign_with_the_first_and_verify_with_every_listed_one(
    client: Client, user: User, login: Login
) -> None:
    new_private, new_public = _ec_pem_pair()
    old_private, old_public = _ec_pem_pair()
    with override_settings(JWT_ALGORITHM="ES256", JWT_KEYS=[("ec1", old_private)]):
        before = login(user)

    # Rotated: the new private key signs; only the old public key is still deployed.
    with override_settings(
        JWT_ALGORITHM="ES256", JWT_KEYS=[("ec2", new_private), ("ec1", old_public)]
    ):
        pair = login(user)
        assert jwt.get_unverified_header(pair["access_token"]) == {
            "alg": "ES256",
            "kid": "ec2",
            "typ": "JWT",
        }
        jwt.decode(pair["access_token"], new_public, algorithms=["ES256"], audience="musicbud-api")
        assert me(client, pair["access_token"]).status_code == HTTPStatus.OK
        assert me(client, before["access_token"]).status_code == HTTPStatus.OK
        # The confusion attack: HS256 keyed with the published public key.
        confused = forged_token(user_id=user.pk, key=("ec2", new_public), algorithm="HS256")
        assert_token_rejected(me(client, confused), "token_algorithm_not_allowed")
        forged = forged_token(user_id=user.pk, key=("ec2", old_private), algorithm="ES256")
        assert_token_rejected(me(client, forged), "token_bad_signature")

    # HMAC tokens are not accepted once the deployment is on ES256, and vice versa.
    assert_token_rejected(me(client, pair["access_token"]), "token_algorithm_not_allowed")


# --- nothing leaks ----------------------------------------------------------------------------


def test_passwords_and_tokens_never_reach_the_logs(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "leak-canary-passphrase-31"
    new_password = "leak-canary-renewed-phrase-47"
    weak = post(
        client, REGISTER, {"username": "canary", "email": "c@example.org", "password": "canary"}
    )
    registered = post(
        client, REGISTER, {"username": "canary", "email": "c@example.org", "password": password}
    )
    failed = post(client, LOGIN, {"username": "canary", "password": password + "x"})
    pair = post(client, LOGIN, {"username": "canary", "password": password}).json()
    rotated = post(client, REFRESH, {"refresh_token": pair["refresh_token"]}).json()
    reused = post(client, REFRESH, {"refresh_token": pair["refresh_token"]})
    second = post(client, LOGIN, {"username": "canary", "password": password}).json()
    profile = me(client, second["access_token"])
    changed = post(
        client,
        PASSWORD,
        {"old_password": password, "new_password": new_password},
        headers=bearer(second["access_token"]),
    )
    logged_out = post(client, LOGOUT, {"refresh_token": second["refresh_token"]})

    tokens = [pair, rotated, second]
    secrets = [
        password,
        new_password,
        *(t[k] for t in tokens for k in ("access_token", "refresh_token")),
    ]
    user = User.objects.get(username="canary")
    logged = (
        caplog.text
        + "".join(str(record.__dict__) for record in caplog.records)
        + json.dumps(json_logs())
    )
    messages = [record.getMessage() for record in caplog.records]
    assert "login refused" in messages  # the flows above did log ...
    assert "refresh token reuse: family revoked" in messages
    assert "password changed" in messages
    for secret in [*secrets, user.password]:  # ... and nothing secret
        assert secret not in logged
    assert weak.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert changed.status_code == logged_out.status_code == HTTPStatus.NO_CONTENT
    for response in (weak, registered, failed, reused, profile, changed, logged_out):
        for secret in [*secrets, user.password, "argon2"]:
            assert secret not in response.content.decode()


# --- async: the hot path and concurrency --------------------------------------------------------


async def async_login(client: AsyncClient, username: str) -> dict[str, Any]:
    """Log ``username`` in (the default password) through the API: the token pair."""
    response = await client.post(
        reverse(LOGIN),
        {"username": username, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    pair: dict[str, Any] = response.json()
    return pair


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_warm_bearer_request_makes_no_thread_hop(
    count_sync_hops: HopRecorder,
) -> None:
    def hops() -> list[str]:
        return [*count_sync_hops.thread_sensitive, *count_sync_hops.thread_free]

    user = await User.objects.acreate(
        username="hopper", email="h@example.org", password=default_password_hash()
    )
    with override_settings(MIDDLEWARE=[]):  # Django's stock middleware hops; measure the API
        client = AsyncClient()
        pair = await async_login(client, "hopper")
        await cache.adelete(user_cache_key(user.pk))

        count_sync_hops.clear()
        await client.get(reverse("health-live"))
        handler_hops = len(hops())  # what the request cycle itself costs
        count_sync_hops.clear()
        cold = await client.get(reverse(ME), headers=bearer(pair["access_token"]))
        cold_hops = len(hops())
        count_sync_hops.clear()
        warm = await client.get(reverse(ME), headers=bearer(pair["access_token"]))
        warm_hops = hops()
        await cache.aclear()  # the token's family is not cached either now
        count_sync_hops.clear()
        flushed = await client.get(reverse(ME), headers=bearer(pair["access_token"]))
        flushed_hops = len(hops())

    assert cold.status_code == warm.status_code == flushed.status_code == HTTPStatus.OK
    assert cold_hops == handler_hops + 1  # the counter sees the one user load ...
    assert len(warm_hops) == handler_hops, warm_hops  # ... and nothing once it is cached
    assert flushed_hops == handler_hops + 1  # one hop reads the family's row and the user


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_concurrent_refreshes_of_one_token_yield_at_most_one_pair() -> None:
    await User.objects.acreate(
        username="racer", email="r@example.org", password=default_password_hash()
    )
    client = AsyncClient()
    pair = await async_login(client, "racer")

    responses = await asyncio.gather(
        *(
            AsyncClient().post(
                reverse(REFRESH),
                {"refresh_token": pair["refresh_token"]},
                content_type="application/json",
            )
            for _ in range(4)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 401, 401, 401]
    codes = {response.json()["code"] for response in responses if response.status_code == 401}
    assert codes <= {"token_reused", "token_revoked"}
    assert "token_reused" in codes
    # The race looks like theft, so the family is revoked: the winner's pair is dead too.
    winner = next(response for response in responses if response.status_code == 200).json()
    assert_token_rejected(
        await client.get(reverse(ME), headers=bearer(winner["access_token"])), "token_revoked"
    )


# --- rate limits (the strict policy) -----------------------------------------------------------


def assert_rate_limited(response: Any) -> None:
    assert_envelope(response, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert response["RateLimit-Limit"] == "3"
    assert response["RateLimit-Remaining"] == "0"


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=2)
def test_look_alike_spellings_of_a_login_share_its_budget(client: Client) -> None:
    if connection.vendor != "postgresql":
        # SQLite folds ASCII case only: there the long s names no account, so it cannot
        # spend (or reach) jess's budget.
        pytest.skip("PostgreSQL's Unicode case folding is what makes the spellings one login")
    UserFactory.create(username="jess")
    # PostgreSQL's case-insensitive match maps U+017F (long s) to "S": the same account.
    for spelling in ("jess", "JE\u017f\u017f"):
        wrong = post(client, LOGIN, {"username": spelling, "password": "wrong-password-0"})
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED

    blocked = post(
        client,
        LOGIN,
        {"username": "Jess", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )

    assert_envelope(blocked, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=3)
def test_login_is_limited_per_account_across_addresses(client: Client, user: User) -> None:
    for attempt in range(3):
        wrong = post(
            client,
            LOGIN,
            {"username": user.username, "password": "wrong-password-0"},
            REMOTE_ADDR=f"10.0.0.{attempt}",
        )
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED

    # Even the right password from a fresh address is refused now, in another case.
    blocked = post(
        client,
        LOGIN,
        {"username": user.username.upper(), "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )

    assert_rate_limited(blocked)
    assert "access_token" not in blocked.json()
    other = UserFactory.create()
    allowed = post(
        client,
        LOGIN,
        {"username": other.username, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.9.9.9",
    )
    assert allowed.status_code == HTTPStatus.OK


# The per-address budget is its own, looser one: people behind one NAT address try more
# accounts than the per-account limit allows one account.
@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=2, RATE_LIMIT_CLIENT_PER_MINUTE=3)
def test_login_is_limited_per_address_across_accounts(client: Client) -> None:
    users = UserFactory.create_batch(4)
    for user in users[:3]:
        response = post(
            client,
            LOGIN,
            {"username": user.username, "password": "wrong-password-0"},
            REMOTE_ADDR="10.1.1.1",
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED

    blocked = post(
        client,
        LOGIN,
        {"username": users[3].username, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.1.1.1",
    )

    assert_rate_limited(blocked)
    elsewhere = post(
        client,
        LOGIN,
        {"username": users[3].username, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.2.2.2",
    )
    assert elsewhere.status_code == HTTPStatus.OK


# Per client address, on the looser budget (more than the strict limit get through).
@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=2, RATE_LIMIT_CLIENT_PER_MINUTE=3)
def test_register_is_limited(client: Client) -> None:
    for n in range(3):
        response = post(
            client,
            REGISTER,
            {"username": f"new{n}", "email": f"new{n}@example.org", "password": NEW_PASSWORD},
        )
        assert response.status_code == HTTPStatus.CREATED

    blocked = post(
        client,
        REGISTER,
        {"username": "new3", "email": "new3@example.org", "password": NEW_PASSWORD},
    )

    assert_rate_limited(blocked)
    assert not User.objects.filter(username="new3").exists()


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=3)
def test_refresh_is_limited(client: Client, user: User, login: Login) -> None:
    pair = login(user)  # the login budgets are other groups
    token = pair["refresh_token"]
    for _ in range(3):
        response = post(client, REFRESH, {"refresh_token": token})
        assert response.status_code == HTTPStatus.OK
        token = response.json()["refresh_token"]

    blocked = post(client, REFRESH, {"refresh_token": token})

    assert_rate_limited(blocked)
    # The refused request did not spend the token.
    with override_settings(RATE_LIMIT_STRICT_PER_MINUTE=10):
        assert post(client, REFRESH, {"refresh_token": token}).status_code == HTTPStatus.OK


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=3)
def test_password_change_is_limited_per_user(client: Client, user: User, login: Login) -> None:
    access = login(user)["access_token"]
    wrong = {"old_password": "guess-0000000", "new_password": NEW_PASSWORD}
    for _ in range(3):
        response = post(client, PASSWORD, wrong, headers=bearer(access))
        assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "wrong_password")

    right = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    blocked = post(client, PASSWORD, right, headers=bearer(access))

    assert_rate_limited(blocked)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@override_settings(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_FAIL_OPEN=True)
def test_a_redis_outage_is_a_503_to_retry_not_a_500(client: Client) -> None:
    user = UserFactory.create()

    response = client.post(
        reverse("api-v1:auth-login"),
        {"username": user.username, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )

    body = assert_envelope(
        response,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "A backing service is unavailable; try again shortly",
    )
    assert response["Retry-After"] == "5"
    assert "access_token" not in body


def test_a_field_is_named_one_way_whoever_finds_it_bad(client: Client) -> None:
    url = reverse(REGISTER)
    by_the_schema = client.post(
        url,
        {"username": "x" * 31, "email": "a@b.example", "password": "long enough pass"},
        content_type="application/json",
    )
    by_the_service = client.post(
        url,
        {"username": "newbie", "email": "a@b.example", "password": "newbie"},
        content_type="application/json",
    )

    # The body's field path, never the view's parameter name ("body.payload.username").
    assert [d["field"] for d in by_the_schema.json()["details"]] == ["body.username"]
    assert {d["field"] for d in by_the_service.json()["details"]} == {"body.password"}
