"""Mail over a real SMTP server, email verification, address change, password reset and the
registration that does not tell whether an address is taken."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from musicbud.accounts.models import OutboundMail
from musicbud.models import TokenFamily, User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.http import assert_envelope, bearer
from tests.fixtures.mail import SmtpInbox

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-brand-new-passphrase-77"


def post(client: Client, name: str, body: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(reverse(name), body, content_type="application/json", **kwargs)


def link_values(text: str) -> dict[str, str]:
    found = re.search(r"\?([^\s\"<]+)", text)
    assert found is not None, text
    return dict(pair.split("=", 1) for pair in found.group(1).replace("&amp;", "&").split("&"))


def test_registration_mails_a_verification_link_through_smtp(
    client: Client, smtp_server: SmtpInbox
) -> None:
    response = post(
        client,
        "api-v1:auth-register",
        {"username": "lena", "email": "lena@example.org", "password": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.CREATED
    [mail] = smtp_server.messages
    assert mail["To"] == "lena@example.org"
    assert mail["Subject"] == "Confirm your email address for musicbud"
    token = link_values(smtp_server.text(mail))["token"]
    assert f"/verify-email?token={token}" in smtp_server.html(mail)
    assert not OutboundMail.objects.exists()  # sent, then deleted
    assert User.objects.get(username="lena").email_verified_at is None

    verified = post(client, "api-v1:auth-email-verify", {"token": token})
    assert verified.status_code == HTTPStatus.NO_CONTENT
    assert User.objects.get(username="lena").email_verified_at is not None

    again = post(client, "api-v1:auth-email-verify", {"token": token})
    assert_envelope(again, HTTPStatus.BAD_REQUEST, "email_verification_invalid")


def test_me_says_whether_the_address_is_verified(client: Client, login: Any) -> None:
    user = UserFactory.create()
    token = login(user)["access_token"]
    body = client.get(reverse("api-v1:auth-me"), headers=bearer(token)).json()
    assert body["email_verified"] is False
    assert body["email_pending"] == ""


def test_registration_with_a_taken_address_answers_alike_and_mails_the_owner(
    client: Client, smtp_server: SmtpInbox
) -> None:
    owner = UserFactory.create(username="owner", email="taken@example.org")

    response = post(
        client,
        "api-v1:auth-register",
        {"username": "newcomer", "email": "Taken@Example.org", "password": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert set(body) == {"id", "username", "display_name", "bio", "avatar_url", "date_joined"}
    assert body["username"] == "newcomer"
    assert not User.objects.filter(username="newcomer").exists()
    [mail] = smtp_server.messages
    assert mail["To"] == owner.email
    assert mail["Subject"] == "Someone tried to sign up with your address"
    assert "log in as owner" in smtp_server.text(mail)


def test_email_change_needs_the_password_and_a_new_verification(
    client: Client, login: Any, smtp_server: SmtpInbox
) -> None:
    user = UserFactory.create(email="old@example.org")
    token = login(user)["access_token"]

    wrong = post(
        client,
        "api-v1:auth-email-change",
        {"password": "nope", "email": "new@example.org"},
        headers=bearer(token),
    )
    assert_envelope(wrong, HTTPStatus.UNPROCESSABLE_ENTITY, "wrong_password")
    assert smtp_server.messages == []

    response = post(
        client,
        "api-v1:auth-email-change",
        {"password": DEFAULT_PASSWORD, "email": "new@example.org"},
        headers=bearer(token),
    )
    assert response.status_code == HTTPStatus.ACCEPTED
    user.refresh_from_db()
    assert (user.email, user.email_pending) == ("old@example.org", "new@example.org")
    [mail] = smtp_server.to("new@example.org")
    link = link_values(smtp_server.text(mail))["token"]

    assert post(client, "api-v1:auth-email-verify", {"token": link}).status_code == 204
    user.refresh_from_db()
    assert (user.email, user.email_pending) == ("new@example.org", "")
    assert user.email_verified_at is not None
    [notice] = smtp_server.to("old@example.org")
    assert notice["Subject"] == "Your musicbud email address was changed"


def test_password_reset_answers_alike_and_mails_only_a_known_address(
    client: Client, smtp_server: SmtpInbox
) -> None:
    UserFactory.create(email="known@example.org")

    known = post(client, "api-v1:auth-password-reset", {"email": "known@example.org"})
    unknown = post(client, "api-v1:auth-password-reset", {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == HTTPStatus.ACCEPTED
    assert known.content == unknown.content
    assert [m["To"] for m in smtp_server.messages] == ["known@example.org"]


def test_password_reset_confirm_sets_the_password_and_ends_every_login(
    client: Client, login: Any, smtp_server: SmtpInbox
) -> None:
    user = UserFactory.create(email="known@example.org")
    pair = login(user)
    session_client = Client()
    session_client.force_login(user)
    post(client, "api-v1:auth-password-reset", {"email": "known@example.org"})
    values = link_values(smtp_server.text(smtp_server.messages[0]))

    weak = post(
        client,
        "api-v1:auth-password-reset-confirm",
        {"uid": values["uid"], "token": values["token"], "new_password": "123"},
    )
    assert_envelope(weak, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")

    done = post(
        client,
        "api-v1:auth-password-reset-confirm",
        {"uid": values["uid"], "token": values["token"], "new_password": NEW_PASSWORD},
    )

    assert done.status_code == HTTPStatus.NO_CONTENT
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not TokenFamily.objects.filter(user=user, revoked_at=None).exists()
    refreshed = post(client, "api-v1:auth-refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == HTTPStatus.UNAUTHORIZED
    assert (
        client.get(reverse("api-v1:auth-me"), headers=bearer(pair["access_token"])).status_code
        == 401
    )
    assert session_client.get(reverse("api-v1:auth-me")).status_code == HTTPStatus.UNAUTHORIZED

    used = post(
        client,
        "api-v1:auth-password-reset-confirm",
        {"uid": values["uid"], "token": values["token"], "new_password": "another-passphrase-99"},
    )
    assert_envelope(used, HTTPStatus.BAD_REQUEST, "password_reset_invalid")


def test_an_expired_reset_link_has_its_own_code(
    client: Client, settings: Any, smtp_server: SmtpInbox
) -> None:
    UserFactory.create(email="known@example.org")
    post(client, "api-v1:auth-password-reset", {"email": "known@example.org"})
    values = link_values(smtp_server.text(smtp_server.messages[0]))
    settings.PASSWORD_RESET_TIMEOUT = -1

    response = post(
        client,
        "api-v1:auth-password-reset-confirm",
        {"uid": values["uid"], "token": values["token"], "new_password": NEW_PASSWORD},
    )
    assert_envelope(response, HTTPStatus.BAD_REQUEST, "password_reset_expired")


def test_password_reset_is_rate_limited_per_address(
    client: Client, settings: Any, smtp_server: SmtpInbox
) -> None:
    settings.RATE_LIMIT_STRICT_PER_MINUTE = 2
    UserFactory.create(email="known@example.org")
    statuses = [
        post(client, "api-v1:auth-password-reset", {"email": spelling}).status_code
        for spelling in ("known@example.org", "KNOWN@example.org", "known@EXAMPLE.org")
    ]
    assert statuses == [202, 202, 429]
    assert len(smtp_server.messages) == 2


def test_a_transient_smtp_error_is_retried_and_no_link_reaches_the_log(
    client: Client, smtp_server: SmtpInbox, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.reply_codes = ["451 4.3.0 try again later"]
    UserFactory.create(email="known@example.org")

    with caplog.at_level(logging.INFO):
        post(client, "api-v1:auth-password-reset", {"email": "known@example.org"})

    [mail] = smtp_server.messages  # the second attempt got through
    token = link_values(smtp_server.text(mail))["token"]
    assert "mail not sent; will retry" in caplog.text
    assert token not in caplog.text
    assert not OutboundMail.objects.exists()


def test_a_permanent_smtp_error_drops_the_mail(client: Client, smtp_server: SmtpInbox) -> None:
    smtp_server.reply_codes = ["550 5.1.1 no such mailbox"]
    UserFactory.create(email="known@example.org")
    post(client, "api-v1:auth-password-reset", {"email": "known@example.org"})
    assert smtp_server.messages == []
    assert not OutboundMail.objects.exists()


def test_unverified_accounts_are_held_back_only_from_what_the_setting_names(
    client: Client, login: Any, settings: Any
) -> None:
    settings.UNVERIFIED_ACCOUNT_BLOCKS = frozenset({"export", "report", "chat_send", "connect"})
    user = UserFactory.create()
    UserFactory.create(username="max")
    token = login(user)["access_token"]
    channel = client.post(
        reverse("api-v1:chat-channels"),
        {"name": "jazz"},
        content_type="application/json",
        headers=bearer(token),
    ).json()

    attempts = {
        "export": client.post(reverse("api-v1:my-export-request"), headers=bearer(token)),
        "report": post(
            client,
            "api-v1:report-create",
            {"username": "max", "reason": "spam"},
            headers=bearer(token),
        ),
        "chat_send": client.post(
            reverse("api-v1:chat-channel-messages", args=[channel["id"]]),
            {"content": "hi"},
            content_type="application/json",
            headers=bearer(token),
        ),
        "connect": client.post(
            reverse("api-v1:connection-authorize", args=["spotify"]), headers=bearer(token)
        ),
    }

    for action, response in attempts.items():
        body = assert_envelope(response, HTTPStatus.FORBIDDEN, "email_unverified")
        assert body["details"] == {"action": action}
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    cache.clear()  # the cached principal still says unverified (update() sends no signal)
    verified = client.post(reverse("api-v1:my-export-request"), headers=bearer(token))
    assert verified.status_code == HTTPStatus.ACCEPTED
