"""The accounts' background jobs: sending a queued mail (retried on a transient SMTP error),
building a data export, and deleting expired exports (on beat)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils.module_loading import import_string

from musicbud.accounts.mail import TransientMailError, mail_deliver, mail_give_up

# The project's Celery app (settings.TASK_APP), which the shared tasks below queue on: a web
# worker loads it here, where a mail or an export is first queued, not at start-up.
import_string(settings.TASK_APP)

logger = logging.getLogger(__name__)

MAIL_MAX_RETRIES = 5


@shared_task(bind=True, max_retries=MAIL_MAX_RETRIES)  # type: ignore[untyped-decorator]
def mail_send(self: Any, mail_id: int) -> None:
    try:
        mail_deliver(mail_id=mail_id)
    except TransientMailError as exc:
        if self.request.retries >= MAIL_MAX_RETRIES:
            mail_give_up(mail_id=mail_id)
            return
        # 30 s, 1 min, 2 min, 4 min, 8 min: a server restart or a greylisting passes.
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from None


@shared_task  # type: ignore[untyped-decorator]
def export_build(export_id: str) -> None:
    from musicbud.accounts.export import export_run

    export_run(export_id=export_id)


@shared_task  # type: ignore[untyped-decorator]
def exports_expire() -> None:
    from musicbud.accounts.export import exports_expired_delete

    exports_expired_delete()
