"""The account services: registration and authentication."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from musicbud.errors import AuthenticationFailed, Conflict, InvalidInput
from musicbud.models import User
from musicbud.services.users import user_authenticate, user_register
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


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
