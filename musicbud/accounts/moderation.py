"""Reports to staff, and suspension: a report never reaches the reported person; a
suspension makes the account inactive (refused everywhere, hidden from every listing) and
ends its logins at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.utils import timezone

from musicbud.accounts.models import Report, ReportStatus, Suspension
from musicbud.accounts.sessions import user_logins_end, user_sockets_recheck
from musicbud.chat.models import Membership, MembershipState, Message
from musicbud.errors import InvalidInput, NotFound
from musicbud.models import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportView:
    id: int
    reason: str
    status: str
    created_at: datetime


async def report_create(
    *, reporter_id: int, username: str | None, message_id: UUID | None, reason: str, note: str
) -> ReportView:
    """Report an account, or a message the reporter can see (404 otherwise, as for a
    message that does not exist)."""
    return await sync_to_async(_report, thread_sensitive=True)(
        reporter_id=reporter_id, username=username, message_id=message_id, reason=reason, note=note
    )


def _visible_message(*, user_id: int, message_id: UUID) -> Message | None:
    message = (
        Message.objects.filter(public_id=message_id, deleted_at=None)
        .select_related("conversation", "author")
        .first()
    )
    if message is None or message.author is None:
        return None
    if message.conversation is not None:
        members = {message.conversation.user_low_id, message.conversation.user_high_id}
        return message if user_id in members else None
    assert message.channel_id is not None  # noqa: S101 - the check constraint
    in_channel = Membership.objects.filter(
        channel_id=message.channel_id, user_id=user_id, state=MembershipState.ACTIVE
    ).exists()
    return message if in_channel else None


def _report(
    *, reporter_id: int, username: str | None, message_id: UUID | None, reason: str, note: str
) -> ReportView:
    if (username is None) == (message_id is None):
        raise InvalidInput("Name either a username or a message_id", code="report_target_required")
    message = None
    if message_id is not None:
        message = _visible_message(user_id=reporter_id, message_id=message_id)
        if message is None:
            raise NotFound(f"No message {message_id}", code="message_not_found")
        assert message.author is not None  # noqa: S101 - checked by _visible_message
        reported = message.author
    else:
        found = User.objects.filter(username__iexact=username, is_active=True).first()
        if found is None:
            raise NotFound(f"No user named {username!r}", code="user_not_found")
        reported = found
    if reported.pk == reporter_id:
        raise InvalidInput("You cannot report yourself", code="report_self")
    with transaction.atomic():
        report = Report.objects.create(
            reporter_id=reporter_id,
            reported_user=reported,
            message=message,
            message_content=message.content if message is not None else "",
            reason=reason,
            note=note.strip(),
        )
    logger.info("report made", extra={"report_id": report.pk})
    return ReportView(
        id=report.pk, reason=report.reason, status=report.status, created_at=report.created_at
    )


def reports_resolve(*, report_ids: list[int], staff_id: int | None, resolution: str = "") -> int:
    """Mark open reports resolved (the admin's action, sync)."""
    return Report.objects.filter(pk__in=report_ids, status=ReportStatus.OPEN).update(
        status=ReportStatus.RESOLVED,
        resolved_at=timezone.now(),
        resolved_by_id=staff_id,
        resolution=resolution,
    )


def account_suspend(*, user_id: int, staff_id: int | None, reason: str = "") -> bool:
    """Suspend an account (sync): inactive, its logins ended at once. False if it was."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if Suspension.objects.filter(user=user).exists():
            return False
        Suspension.objects.create(user=user, suspended_by_id=staff_id, reason=reason)
        user.is_active = False
        user.save(update_fields=["is_active"])  # the signals drop the cached user, re-project
    user_logins_end(user_id=user_id)
    async_to_sync(user_sockets_recheck)(user_id=user_id)
    logger.info("account suspended", extra={"user_id": user_id, "staff_id": staff_id})
    return True


def account_unsuspend(*, user_id: int) -> bool:
    """Lift a suspension (sync): the account is active again. False if it was not suspended."""
    with transaction.atomic():
        deleted, _ = Suspension.objects.filter(user_id=user_id).delete()
        if not deleted:
            return False
        user = User.objects.select_for_update().get(pk=user_id)
        user.is_active = True
        user.save(update_fields=["is_active"])
    return True
