"""Provider tokens at rest: Fernet under PROVIDER_TOKEN_KEYS, rotation, the admin."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from musicbud.connections.models import ProviderConnection
from musicbud.connections.token_cipher import TokenUnreadable, token_decrypt, token_encrypt
from musicbud.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _connection(user: User, access: str, refresh: str) -> ProviderConnection:
    return ProviderConnection.objects.create(
        user=user,
        provider="spotify",
        account_id="acct",
        access_token=token_encrypt(access),
        refresh_token=token_encrypt(refresh),
        connected_at=timezone.now(),
    )


def test_tokens_are_fernet_tokens_and_empty_stays_empty(settings: Any) -> None:
    settings.PROVIDER_TOKEN_KEYS = [OLD]

    stored = token_encrypt("access-123")

    assert stored != "access-123"
    assert Fernet(OLD.encode()).decrypt(stored.encode()) == b"access-123"
    assert token_decrypt(stored) == "access-123"
    assert token_encrypt("") == ""
    assert token_decrypt("") == ""


def test_rotation_prepends_a_key_reencrypts_then_drops_the_old(settings: Any, user: User) -> None:
    settings.PROVIDER_TOKEN_KEYS = [OLD]
    connection = _connection(user, "access-123", "refresh-456")
    settings.PROVIDER_TOKEN_KEYS = [NEW, OLD]
    assert token_decrypt(connection.access_token) == "access-123"  # old tokens still read

    out = StringIO()
    call_command("provider_tokens_rotate", stdout=out)

    assert out.getvalue().strip() == "re-encrypted the tokens of 1 connections"
    settings.PROVIDER_TOKEN_KEYS = [NEW]
    connection.refresh_from_db()
    assert token_decrypt(connection.access_token) == "access-123"
    assert token_decrypt(connection.refresh_token) == "refresh-456"


def test_a_token_under_a_dropped_key_is_a_clear_error(settings: Any, user: User) -> None:
    settings.PROVIDER_TOKEN_KEYS = [OLD]
    connection = _connection(user, "access-123", "")
    settings.PROVIDER_TOKEN_KEYS = [NEW]

    with pytest.raises(TokenUnreadable) as info:
        token_decrypt(connection.access_token)

    assert str(info.value) == (
        "a stored provider token cannot be decrypted with PROVIDER_TOKEN_KEYS (was its key "
        "removed before rotation?)"
    )


def test_the_admin_shows_that_a_token_exists_never_the_token(user: User) -> None:
    connection = _connection(user, "access-visible-nowhere", "refresh-visible-nowhere")
    admin = UserFactory.create(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)

    listing = client.get(reverse("admin:musicbud_providerconnection_changelist"))
    detail = client.get(reverse("admin:musicbud_providerconnection_change", args=[connection.pk]))

    for page in (listing, detail):
        html = page.content.decode()
        assert page.status_code == 200
        assert "access token stored" in html.lower()
        assert "visible-nowhere" not in html
        assert connection.access_token not in html
        assert connection.refresh_token not in html
    assert "acct" in listing.content.decode()
