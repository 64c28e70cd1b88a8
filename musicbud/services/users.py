"""Accounts: registration, credential checks and password changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from musicbud.accounts.services import (
    registration_attempt_mail_queue,
    verification_mail_queue,
)
from musicbud.email_address import email_normalize, email_normalize_lenient
from musicbud.errors import AuthenticationFailed, Conflict, InvalidInput
from musicbud.models import User, username_validator
from musicbud.services.tokens import token_user_revoke_all

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Invalid username or password"


def _field_errors(field: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": field, "message": message, "type": "invalid"} for message in exc.messages]


async def user_register(*, username: str, email: str, password: str) -> User:
    """Create an active user and mail them a verification link; 422 listing each bad field,
    409 if the username is taken. A taken address answers like a new account (see
    ``_register_taken_address``)."""
    return await sync_to_async(_register, thread_sensitive=True)(
        username=username, email=email, password=password
    )


def _register(*, username: str, email: str, password: str) -> User:
    username, email = username.strip(), email.strip()
    errors: list[dict[str, Any]] = []
    try:
        username_validator(username)
    except ValidationError as exc:
        errors += _field_errors("username", exc)
    try:
        # One spelling per address, and no domain that passes for another.
        email = email_normalize(email)
        validate_email(email)
    except ValidationError as exc:
        errors += _field_errors("email", exc)
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        errors += _field_errors("password", exc)
    if errors:
        raise InvalidInput("Validation failed", code="validation_error", details=errors)

    if User.objects.filter(username__iexact=username).exists():
        # Usernames are public (profiles, buds): saying one is taken tells nothing new.
        raise Conflict("A user with that username already exists.", code="username_taken")
    owner = User.objects.filter(email__iexact=email).first()
    if owner is not None:
        return _register_taken_address(owner=owner, username=username, password=password)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            verification_mail_queue(user=user)
            return user
    except IntegrityError:
        # A concurrent registration won between the checks and the insert.
        raise Conflict(
            "A user with that username or email already exists.", code="account_exists"
        ) from None


def _register_taken_address(*, owner: User, username: str, password: str) -> User:
    """An address that has an account is not said to be taken (that would tell who has an
    account): the answer looks like a new account's, made with the same work (a password
    hash, a mail queued), and the address's owner is told by mail instead."""
    stand_in = User(username=username, email=owner.email, date_joined=timezone.now())
    stand_in.set_password(password)
    with transaction.atomic():
        registration_attempt_mail_queue(user=owner)
    logger.info("registration with a taken address", extra={"user_id": owner.pk})
    return stand_in


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Whom a login names: the account its lookup found (None when there is none), and the
    key its per-account budget is counted under, the same for every spelling of it."""

    user: User | None
    budget_key: str


async def login_resolve(*, login: str) -> LoginAttempt:
    """Look up the account a username or email names, before any password is checked."""
    return await sync_to_async(_resolve, thread_sensitive=True)(login=login)


def _resolve(*, login: str) -> LoginAttempt:
    login = login.strip()
    field, value = (
        ("email", email_normalize_lenient(login)) if "@" in login else ("username", login)
    )
    user = User.objects.filter(**{f"{field}__iexact": value}).first()
    if user is not None:
        return LoginAttempt(user=user, budget_key=f"account:{user.pk}")
    # No account: the budget is the lookup's own case-folding of what it looked for, so the
    # spellings one account would share (``iexact`` compares UPPER() of both sides in the
    # database) share one budget here too, and guessing is limited alike.
    with connection.cursor() as cursor:
        cursor.execute("SELECT UPPER(%s)", [value])
        folded: str = cursor.fetchone()[0]
    return LoginAttempt(user=None, budget_key=f"{field}:{folded}")


async def user_authenticate(*, attempt: LoginAttempt, password: str) -> User:
    """The active user ``attempt`` found, if ``password`` is theirs.

    One message for every failure (unknown, wrong password, inactive), so answers do not
    reveal which accounts exist.
    """
    return await sync_to_async(_authenticate, thread_sensitive=True)(
        attempt=attempt, password=password
    )


def _authenticate(*, attempt: LoginAttempt, password: str) -> User:
    user = attempt.user
    if user is None:
        # Hash anyway so an unknown account costs as much time as a wrong password. The
        # attempted name is not logged: people type passwords into the username field.
        User().set_password(password)
        logger.info("login refused", extra={"reason": "unknown_account"})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    refusal = (
        "wrong_password"
        if not user.check_password(password)
        else "inactive"
        if not user.is_active
        else None
    )
    if refusal is not None:
        logger.info("login refused", extra={"reason": refusal, "user_id": user.pk})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    with transaction.atomic():
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
    return user


async def user_password_change(*, user_id: int, old_password: str, new_password: str) -> User:
    """Check the old password, store the new one and revoke every token the user holds.

    Sessions elsewhere end on their own (Django checks the password hash in each session).
    """
    user = await sync_to_async(_password_set, thread_sensitive=True)(
        user_id=user_id, old_password=old_password, new_password=new_password
    )
    revoked = await token_user_revoke_all(user_id=user_id)
    logger.info("password changed", extra={"user_id": user_id, "revoked_families": revoked})
    return user


def _password_set(*, user_id: int, old_password: str, new_password: str) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.check_password(old_password):
            raise InvalidInput(
                "The current password is wrong",
                code="wrong_password",
                details=[{"field": "old_password", "message": "Wrong password", "type": "invalid"}],
            )
        try:
            validate_password(new_password, user=user)
        except ValidationError as exc:
            raise InvalidInput(
                "Validation failed",
                code="validation_error",
                details=_field_errors("new_password", exc),
            ) from None
        user.set_password(new_password)
        user.save(update_fields=["password"])
    return user
