"""Account mails: rendered (plain text + HTML) into an ``OutboundMail`` row in the caller's
transaction and handed to the task runner after commit; the task sends it over ``EMAIL_URL``
and deletes the row. Task arguments and log lines carry the row's id, never a link."""

from __future__ import annotations

import logging
import smtplib
import socket
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string

from musicbud.accounts.models import OutboundMail

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailKind:
    """A kind of mail: its subject and its templates (``accounts/mail/<name>.txt|.html``)."""

    name: str
    subject: str


EMAIL_VERIFY = MailKind("email_verify", "Confirm your email address for musicbud")
PASSWORD_RESET = MailKind("password_reset", "Reset your musicbud password")
REGISTRATION_ATTEMPT = MailKind(
    "registration_attempt", "Someone tried to sign up with your address"
)
EMAIL_CHANGED = MailKind("email_changed", "Your musicbud email address was changed")


class TransientMailError(Exception):
    """The mail server could not take the mail now; sending again later may succeed."""


def mail_queue(*, kind: MailKind, to: str, context: dict[str, Any]) -> OutboundMail:
    """Render ``kind`` for ``to`` and send it once the caller's transaction commits."""
    from musicbud.accounts.tasks import mail_send

    full = {"base_url": settings.ACCOUNT_LINK_BASE_URL, **context}
    mail = OutboundMail.objects.create(
        kind=kind.name,
        to=to,
        subject=kind.subject,
        text=render_to_string(f"accounts/mail/{kind.name}.txt", full),
        html=render_to_string(f"accounts/mail/{kind.name}.html", full),
    )
    mail_id = mail.pk
    transaction.on_commit(lambda: mail_send.delay(mail_id), robust=True)
    return mail


def _transient(exc: BaseException) -> bool:
    """A 4xx reply or a lost connection may pass later; a 5xx reply will not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPServerDisconnected | socket.timeout | OSError)


def mail_deliver(*, mail_id: int) -> bool:
    """Send one queued mail; True when it left (or was already gone). Raises
    ``TransientMailError`` when the server should be tried again later; a mail the server
    refuses for good is dropped and logged."""
    mail = OutboundMail.objects.filter(pk=mail_id).first()
    if mail is None:  # a redelivered task whose mail already left
        return True
    OutboundMail.objects.filter(pk=mail_id).update(attempts=mail.attempts + 1)
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    message.attach_alternative(mail.html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # The exception's text may quote the server's reply; its type and code say enough.
        code = getattr(exc, "smtp_code", None)
        if _transient(exc):
            logger.warning(
                "mail not sent; will retry",
                extra={
                    "mail_id": mail_id,
                    "kind": mail.kind,
                    "error": type(exc).__name__,
                    "smtp_code": code,
                    "attempt": mail.attempts + 1,
                },
            )
            raise TransientMailError(type(exc).__name__) from None
        logger.exception(
            "mail refused; dropped",
            extra={
                "mail_id": mail_id,
                "kind": mail.kind,
                "error": type(exc).__name__,
                "smtp_code": code,
            },
        )
        mail.delete()
        return False
    mail.delete()
    logger.info("mail sent", extra={"mail_id": mail_id, "kind": mail.kind})
    return True


def mail_give_up(*, mail_id: int) -> None:
    """The retries are spent: drop the mail (its links expire anyway) and say so."""
    deleted, _ = OutboundMail.objects.filter(pk=mail_id).delete()
    if deleted:
        logger.error("mail not sent after every retry; dropped", extra={"mail_id": mail_id})
