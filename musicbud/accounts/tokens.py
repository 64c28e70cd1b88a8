"""The signed, expiring, single-use tokens of account links, on Django's
``PasswordResetTokenGenerator``: each token hashes the state its use changes (the password
and last login for a reset, the addresses and verification time for a verification), so a
used token no longer matches."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from musicbud.models import User


class TokenCheck(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # forged, or already used (the state it hashed has changed)


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "musicbud.accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        verified = "" if user.email_verified_at is None else user.email_verified_at.isoformat()
        return f"{user.pk}{user.email}{user.email_pending}{verified}{timestamp}"


password_reset_tokens = PasswordResetTokenGenerator()
email_verification_tokens = EmailVerificationTokenGenerator()


def token_check(
    generator: PasswordResetTokenGenerator, *, user: User, token: str, ttl_seconds: int
) -> TokenCheck:
    """Django's ``check_token``, telling an expired token from a wrong or used one."""
    ts_b36, sep, _ = token.partition("-")
    if not sep:
        return TokenCheck.INVALID
    try:
        ts = base36_to_int(ts_b36)
    except ValueError:
        return TokenCheck.INVALID
    secrets = [generator.secret, *generator.secret_fallbacks]
    if not any(
        constant_time_compare(
            generator._make_token_with_timestamp(user, ts, secret),
            token,
        )
        for secret in secrets
    ):
        return TokenCheck.INVALID
    if generator._num_seconds(generator._now()) - ts > ttl_seconds:
        return TokenCheck.EXPIRED
    return TokenCheck.VALID


def uid_encode(user_id: int) -> str:
    return urlsafe_base64_encode(force_bytes(user_id))


def uid_decode(uid: str) -> int | None:
    try:
        value = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    return value if 0 < value < 2**63 else None


def verification_token_make(user: User) -> str:
    """``<uid>.<token>``: the verification link carries one value."""
    return f"{uid_encode(user.pk)}.{email_verification_tokens.make_token(user)}"


def verification_ttl() -> int:
    return int(settings.EMAIL_VERIFICATION_TTL_SECONDS)


def reset_ttl() -> int:
    return int(settings.PASSWORD_RESET_TIMEOUT)
