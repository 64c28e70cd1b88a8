"""Email verification, address changes and password reset: links on Django's signed, expiring
token generators, mails after commit (musicbud/accounts/README.md)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from musicbud.accounts.mail import (
    EMAIL_CHANGED,
    EMAIL_VERIFY,
    PASSWORD_RESET,
    REGISTRATION_ATTEMPT,
    mail_queue,
)
from musicbud.accounts.sessions import user_logins_end, user_sockets_recheck
from musicbud.accounts.tokens import (
    TokenCheck,
    email_verification_tokens,
    password_reset_tokens,
    reset_ttl,
    token_check,
    uid_decode,
    uid_encode,
    verification_token_make,
    verification_ttl,
)
from musicbud.email_address import email_normalize, email_normalize_lenient
from musicbud.errors import Conflict, InvalidInput, MusicbudError, PermissionDenied
from musicbud.models import User

logger = logging.getLogger(__name__)


class LinkInvalid(MusicbudError):
    """A verification or reset link that is forged, already used, or expired (400)."""


def _verification_link_error(check: TokenCheck) -> LinkInvalid:
    if check is TokenCheck.EXPIRED:
        return LinkInvalid(
            "The email verification link has expired", code="email_verification_expired"
        )
    return LinkInvalid(
        "The email verification link is invalid or was already used",
        code="email_verification_invalid",
    )


def _reset_link_error(check: TokenCheck) -> LinkInvalid:
    if check is TokenCheck.EXPIRED:
        return LinkInvalid("The password reset link has expired", code="password_reset_expired")
    return LinkInvalid(
        "The password reset link is invalid or was already used", code="password_reset_invalid"
    )


# --- verification -----------------------------------------------------------------------------


def verification_mail_queue(*, user: User) -> None:
    """Send ``user`` a link that verifies their pending address, else their address (sync, in
    the caller's transaction)."""
    mail_queue(
        kind=EMAIL_VERIFY,
        to=user.email_pending or user.email,
        context={
            "username": user.username,
            "email": user.email_pending or user.email,
            "token": verification_token_make(user),
            "ttl_hours": verification_ttl() // 3600,
        },
    )


def registration_attempt_mail_queue(*, user: User) -> None:
    """Tell the owner of an address that someone tried to register with it (sync)."""
    mail_queue(kind=REGISTRATION_ATTEMPT, to=user.email, context={"username": user.username})


async def email_verify(*, token: str) -> User:
    """Open a verification link: the pending address replaces the old one, or the address is
    marked verified. 400 ``email_verification_invalid`` / ``_expired``."""
    return await sync_to_async(_verify, thread_sensitive=True)(token=token)


def _verify(*, token: str) -> User:
    uid, _, raw = token.partition(".")
    user_id = uid_decode(uid)
    with transaction.atomic():
        user = (
            User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
            if user_id
            else None
        )
        check = (
            TokenCheck.INVALID
            if user is None
            else token_check(
                email_verification_tokens, user=user, token=raw, ttl_seconds=verification_ttl()
            )
        )
        if user is None or check is not TokenCheck.VALID:
            raise _verification_link_error(check)
        if user.email_pending:
            # The new address is proven the person's: only now can it be said to be taken.
            if User.objects.filter(email__iexact=user.email_pending).exclude(pk=user.pk).exists():
                raise Conflict("A user with that email already exists.", code="email_taken")
            old = user.email
            user.email, user.email_pending = user.email_pending, ""
            mail_queue(kind=EMAIL_CHANGED, to=old, context={"username": user.username})
        user.email_verified_at = timezone.now()
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_pending", "email_verified_at"])
        except IntegrityError:
            raise Conflict("A user with that email already exists.", code="email_taken") from None
    logger.info("email verified", extra={"user_id": user.pk})
    return user


async def email_verification_resend(*, user_id: int) -> bool:
    """Send the verification link again; False (nothing sent) when nothing awaits it."""
    return await sync_to_async(_resend, thread_sensitive=True)(user_id=user_id)


def _resend(*, user_id: int) -> bool:
    with transaction.atomic():
        user = User.objects.get(pk=user_id)
        if user.email_verified_at is not None and not user.email_pending:
            return False
        verification_mail_queue(user=user)
    return True


async def email_change(*, user_id: int, password: str, email: str) -> User:
    """Ask to change the address: needs the password; the new address gets a verification
    link and replaces the old one only once it is opened. Whether the address belongs to
    someone else is not said here (that would tell who has an account)."""
    return await sync_to_async(_email_change, thread_sensitive=True)(
        user_id=user_id, password=password, email=email
    )


def _email_change(*, user_id: int, password: str, email: str) -> User:
    try:
        email = email_normalize(email.strip())
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(
            "Validation failed",
            code="validation_error",
            details=[{"field": "email", "message": m, "type": "invalid"} for m in exc.messages],
        ) from None
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.check_password(password):
            raise InvalidInput(
                "The password is wrong",
                code="wrong_password",
                details=[{"field": "password", "message": "Wrong password", "type": "invalid"}],
            )
        if email.lower() == user.email.lower():
            user.email_pending = ""
            user.save(update_fields=["email_pending"])
            return user
        user.email_pending = email
        user.save(update_fields=["email_pending"])
        verification_mail_queue(user=user)
    return user


def email_verified_require(*, user: User, action: str) -> None:
    """403 ``email_unverified`` when ``UNVERIFIED_ACCOUNT_BLOCKS`` names ``action`` and the
    user's address is not verified yet."""
    from django.conf import settings

    if action in settings.UNVERIFIED_ACCOUNT_BLOCKS and user.email_verified_at is None:
        raise PermissionDenied(
            "Verify your email address first", code="email_unverified", details={"action": action}
        )


# --- password reset ---------------------------------------------------------------------------


async def password_reset_request(*, email: str) -> None:
    """Mail a reset link when ``email`` is an active account's; do as much work either way
    (the same queries and one password hash), so neither the answer nor its time tells."""
    await sync_to_async(_reset_request, thread_sensitive=True)(email=email)


def _reset_request(*, email: str) -> None:
    address = email_normalize_lenient(email.strip())
    user = User.objects.filter(email__iexact=address, is_active=True).first()
    # The cost a token costs, paid for nobody too (a hash is the slow part of both paths).
    User().set_password(address)
    if user is None:
        logger.info("password reset requested", extra={"known": False})
        return
    with transaction.atomic():
        mail_queue(
            kind=PASSWORD_RESET,
            to=user.email,
            context={
                "username": user.username,
                "uid": uid_encode(user.pk),
                "token": password_reset_tokens.make_token(user),
                "ttl_minutes": reset_ttl() // 60,
            },
        )
    logger.info("password reset requested", extra={"known": True, "user_id": user.pk})


async def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set the new password if the link is valid, then end every login of the account."""
    user_id = await sync_to_async(_reset_confirm, thread_sensitive=True)(
        uid=uid, token=token, new_password=new_password
    )
    await user_sockets_recheck(user_id=user_id)


def _reset_confirm(*, uid: str, token: str, new_password: str) -> int:
    user_id = uid_decode(uid)
    with transaction.atomic():
        user = (
            User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
            if user_id
            else None
        )
        check = (
            TokenCheck.INVALID
            if user is None
            else token_check(password_reset_tokens, user=user, token=token, ttl_seconds=reset_ttl())
        )
        if user is None or check is not TokenCheck.VALID:
            raise _reset_link_error(check)
        try:
            validate_password(new_password, user=user)
        except ValidationError as exc:
            details: list[dict[str, Any]] = [
                {"field": "new_password", "message": m, "type": "invalid"} for m in exc.messages
            ]
            raise InvalidInput(
                "Validation failed", code="validation_error", details=details
            ) from None
        user.set_password(new_password)
        # The link's mail reached the address: it is the person's.
        if user.email_verified_at is None and not user.email_pending:
            user.email_verified_at = timezone.now()
        user.save(update_fields=["password", "email_verified_at"])
    user_logins_end(user_id=user.pk)
    logger.info("password reset", extra={"user_id": user.pk})
    return user.pk
