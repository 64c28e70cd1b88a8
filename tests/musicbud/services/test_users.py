"""The account services: registration and authentication."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import connection

from musicbud.accounts.models import OutboundMail
from musicbud.email_address import email_normalize
from musicbud.errors import AuthenticationFailed, Conflict, InvalidInput
from musicbud.models import User
from musicbud.services.users import login_resolve, user_authenticate, user_register
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def log_in(login: str, password: str) -> User:
    attempt = async_to_sync(login_resolve)(login=login)
    return async_to_sync(user_authenticate)(attempt=attempt, password=password)


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


@pytest.mark.parametrize(
    ("login", "key"),
    [
        ("Demo.User", "username:DEMO.USER"),
        ("  demo.user  ", "username:DEMO.USER"),
        ("Ghost@\uff24\uff25\uff2d\uff2f.example", "email:GHOST@DEMO.EXAMPLE"),
        ("ghost@demo.EXAMPLE", "email:GHOST@DEMO.EXAMPLE"),
    ],
)
def test_a_login_naming_no_account_is_budgeted_as_the_lookup_folds_it(login: str, key: str) -> None:
    attempt = async_to_sync(login_resolve)(login=login)

    assert (attempt.user, attempt.budget_key) == (None, key)


def test_every_spelling_of_an_account_resolves_to_its_one_budget() -> None:
    user = UserFactory.create(username="jess", email="jess@demo.example")
    spellings = (
        "jess",
        "JESS",
        # PostgreSQL folds the long s (U+017F) to "S"; SQLite folds ASCII case only.
        "JE\u017f\u017f" if connection.vendor == "postgresql" else "jEsS",
        "jess@\uff24\uff25\uff2d\uff2f.example",
        "JESS@demo.example",
    )

    attempts = [async_to_sync(login_resolve)(login=spelling) for spelling in spellings]

    assert {
        (attempt.user.pk if attempt.user else None, attempt.budget_key) for attempt in attempts
    } == {(user.pk, f"account:{user.pk}")}


def test_authenticate_accepts_the_email_and_records_the_login() -> None:
    user = UserFactory.create()

    authenticated = log_in(user.email.upper(), DEFAULT_PASSWORD)

    stored = User.objects.get(pk=user.pk)
    assert authenticated.pk == user.pk
    assert stored.last_login is not None
    assert stored.last_login == authenticated.last_login
    with pytest.raises(AuthenticationFailed):
        log_in(user.username, "nope-nope-nope")


# --- email addresses: one spelling each, and no domain that passes for another ----------------

CYRILLIC_E = "\u0435"  # looks exactly like the Latin "e"
FULLWIDTH_DEMO = "\uff24\uff25\uff2d\uff2f"  # "DEMO" in fullwidth letters
EXAMPLE_RU = "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"  # "example.rf" in Russian


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Lena@Example.ORG", "Lena@example.org"),  # the local part keeps its case
        (f"lena@{FULLWIDTH_DEMO}.musicbud.invalid", "lena@demo.musicbud.invalid"),
        ("lena@M\u00dcNCHEN.de", "lena@m\u00fcnchen.de"),
        ("lena@xn--mnchen-3ya.de", "lena@m\u00fcnchen.de"),  # the same domain in ASCII form
        ("lena@\u65e5\u672c\u8a9e.jp", "lena@\u65e5\u672c\u8a9e.jp"),  # one script per label
        (f"lena@{EXAMPLE_RU}", f"lena@{EXAMPLE_RU}"),  # Cyrillic under a Cyrillic TLD
    ],
)
def test_email_normalize_gives_one_spelling_per_address(typed: str, stored: str) -> None:
    assert email_normalize(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (f"demo@d{CYRILLIC_E}mo.musicbud.invalid", "mixed_script_domain"),
        ("demo@xn--dmo-rdd.musicbud.invalid", "mixed_script_domain"),  # the same, in ASCII
        ("demo@\u0430\u0440\u0435.com", "lookalike_domain"),  # all-Cyrillic "ape" under .com
        ("demo@exa mple.com", "invalid_domain"),
        ("demo@", "invalid"),
    ],
)
def test_email_normalize_refuses_domains_that_pass_for_others(typed: str, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        email_normalize(typed)

    assert refused.value.code == code


def register_beside_demo(email: str) -> None:
    """Register ``email`` while demo@demo.musicbud.invalid exists."""
    UserFactory.create(email="demo@demo.musicbud.invalid")
    async_to_sync(user_register)(username="second", email=email, password=DEFAULT_PASSWORD)


def test_register_refuses_a_homograph_of_an_existing_address() -> None:
    with pytest.raises(InvalidInput) as refused:
        register_beside_demo(f"demo@d{CYRILLIC_E}mo.musicbud.invalid")

    assert refused.value.code == "validation_error"
    assert refused.value.details == [
        {
            "field": "email",
            "message": (
                f"The email's domain mixes scripts in 'd{CYRILLIC_E}mo' (CYRILLIC, LATIN), "
                "so it could pass for another domain."
            ),
            "type": "invalid",
        }
    ]
    assert User.objects.count() == 1


def test_another_spelling_of_a_taken_address_creates_nothing_and_tells_its_owner() -> None:
    # Not said to be taken (no oracle): the owner of the address is told by mail instead.
    register_beside_demo(f"DEMO@{FULLWIDTH_DEMO}.Musicbud.INVALID")

    assert User.objects.count() == 1
    [mail] = OutboundMail.objects.all()
    assert (mail.kind, mail.to) == ("registration_attempt", "demo@demo.musicbud.invalid")


def test_every_way_of_creating_a_user_stores_the_normalised_address() -> None:
    created = User.objects.create_user(
        username="made", email=f"made@{FULLWIDTH_DEMO}.org", password=DEFAULT_PASSWORD
    )
    edited = User(username="edited", email="edited@M\u00dcNCHEN.de")
    edited.set_password(DEFAULT_PASSWORD)
    edited.full_clean()  # what the admin's forms run

    assert created.email == "made@demo.org"
    assert edited.email == "edited@m\u00fcnchen.de"


def test_the_admin_refuses_a_homograph_address() -> None:
    homograph = User(username="impostor", email=f"demo@d{CYRILLIC_E}mo.musicbud.invalid")
    homograph.set_password(DEFAULT_PASSWORD)

    with pytest.raises(ValidationError) as refused:
        homograph.full_clean()

    assert [error.code for error in refused.value.error_dict["email"]] == ["mixed_script_domain"]


def test_login_by_email_accepts_any_spelling_of_the_address() -> None:
    user = UserFactory.create(email="demo@demo.musicbud.invalid")

    found = log_in(f"demo@{FULLWIDTH_DEMO}.musicbud.invalid", DEFAULT_PASSWORD)

    assert found.pk == user.pk
