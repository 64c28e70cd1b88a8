"""The cached principal of the bearer hot path and the account services."""

from __future__ import annotations

import pickle
import re

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from musicbud.errors import AuthenticationFailed, Conflict, InvalidInput
from musicbud.models import User
from musicbud.selectors.users import password_stamp, principal_get_cached, user_cache_key
from musicbud.services.users import user_authenticate, user_register
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_cached_principal_never_holds_the_password_hash() -> None:
    user = UserFactory.create()

    principal = async_to_sync(principal_get_cached)(user_id=user.pk)

    assert principal is not None
    assert principal.user.pk == user.pk
    assert principal.password_stamp == password_stamp(user.password)
    assert principal.password_stamp != password_stamp("argon2$other")
    assert "password" in principal.user.get_deferred_fields()
    stored = cache.get(user_cache_key(user.pk))
    assert stored == principal
    assert user.password.encode() not in pickle.dumps(stored)


@pytest.mark.parametrize("change", ["save", "delete"])
def test_saving_or_deleting_a_user_drops_the_cached_principal(change: str) -> None:
    user = UserFactory.create()
    async_to_sync(principal_get_cached)(user_id=user.pk)
    assert cache.get(user_cache_key(user.pk)) is not None

    getattr(user, change)()

    assert cache.get(user_cache_key(user.pk)) is None


def test_an_unknown_user_is_none_and_not_cached() -> None:
    assert async_to_sync(principal_get_cached)(user_id=987654) is None
    assert cache.get(user_cache_key(987654)) is None


def test_register_strips_and_keeps_the_usernames_case() -> None:
    user = async_to_sync(user_register)(
        username="  Mixed.Case  ", email=" Mixed@Example.org ", password=DEFAULT_PASSWORD
    )

    # Django's create_user lower-cases the email's domain part only.
    assert (user.username, user.email) == ("Mixed.Case", "Mixed@example.org")
    with pytest.raises(Conflict) as taken:
        async_to_sync(user_register)(
            username="mixed.case", email="x@example.org", password=DEFAULT_PASSWORD
        )
    assert taken.value.code == "username_taken"


def test_register_validates_the_password_against_the_username() -> None:
    with pytest.raises(InvalidInput) as invalid:
        async_to_sync(user_register)(
            username="melodica", email="m@example.org", password="melodica1"
        )

    assert [d["field"] for d in invalid.value.details] == ["password"]
    assert "The password is too similar to the username." in [
        d["message"] for d in invalid.value.details
    ]


def test_authenticate_accepts_the_email_and_records_the_login() -> None:
    user = UserFactory.create()

    authenticated = async_to_sync(user_authenticate)(
        login=user.email.upper(), password=DEFAULT_PASSWORD
    )

    stored = User.objects.get(pk=user.pk)
    assert authenticated.pk == user.pk
    assert stored.last_login is not None
    assert stored.last_login == authenticated.last_login
    with pytest.raises(AuthenticationFailed):
        async_to_sync(user_authenticate)(login=user.username, password="nope-nope-nope")


def test_the_cache_key_names_the_user_model_schema() -> None:
    key = user_cache_key(42)

    prefix, digest, user_id = key.split(":")
    assert (prefix, user_id) == ("user", "42")
    assert re.fullmatch(r"[0-9a-f]{8}", digest)
    assert user_cache_key(42) == key  # stable within a deploy
