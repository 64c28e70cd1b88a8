"""Running a sync of a provider connection (the job row and its queueing are in ``tasks``): the
whole taste is fetched first, then applied as one diff in one transaction, so a failure before
the end commits nothing of it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from musicbud.connections.catalogue_match import CatalogueMatcher, entry_key
from musicbud.connections.models import (
    ConnectionStatus,
    ProviderConnection,
    SyncJob,
    SyncPhase,
    SyncStatus,
)
from musicbud.connections.providers.base import ProviderItem, ProviderSession, TokenSet
from musicbud.connections.providers.errors import ProviderAuthRevoked
from musicbud.connections.providers.registry import provider_get
from musicbud.connections.token_cipher import token_decrypt, token_encrypt
from musicbud.errors import MusicbudError
from musicbud.job_liveness import job_beat
from musicbud.models import User
from musicbud.services.taste_batch import BatchReport, WantedEdge, taste_edges_apply

logger = logging.getLogger(__name__)
# A token this close to its expiry is refreshed before the sync starts.
REFRESH_MARGIN = timedelta(seconds=60)


class SyncAborted(MusicbudError):
    code = "sync_aborted"


def connection_tokens(connection: ProviderConnection) -> TokenSet:
    return TokenSet(
        access_token=token_decrypt(connection.access_token),
        refresh_token=token_decrypt(connection.refresh_token),
        expires_at=connection.token_expires_at,
        scope=connection.scope,
        account_id=connection.account_id,
    )


def connection_tokens_store(connection: ProviderConnection, tokens: TokenSet) -> None:
    """Encrypt and save the tokens (the caller's transaction, or autocommit)."""
    connection.access_token = token_encrypt(tokens.access_token)
    connection.refresh_token = token_encrypt(tokens.refresh_token)
    connection.token_expires_at = tokens.expires_at
    connection.scope = tokens.scope[:500]
    connection.save(
        update_fields=["access_token", "refresh_token", "token_expires_at", "scope", "updated_at"]
    )


# --- the run --------------------------------------------------------------------------------


def connection_sync_run(*, job_id: int) -> None:
    """Run one queued job to its end (succeeded or failed). A running job is started again
    from the fetch: its message was redelivered because its worker died (the diff writes
    nothing twice). A finished job is left alone."""
    claimed = job_beat(
        SyncJob.objects.filter(pk=job_id, status__in=(SyncStatus.QUEUED, SyncStatus.RUNNING)),
        status=SyncStatus.RUNNING,
        phase=SyncPhase.FETCHING,
        started_at=timezone.now(),
        progress=0,
        total=None,
    )
    if not claimed:
        return
    job = SyncJob.objects.select_related("connection__user").get(pk=job_id)
    connection = job.connection
    try:
        items = _fetch(connection, job)
        _apply(connection, job, items)
    except ProviderAuthRevoked as exc:
        ProviderConnection.objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.NEEDS_REAUTH
        )
        _fail(job, exc.message)
    except MusicbudError as exc:
        _fail(job, exc.message)
    except Exception:
        logger.exception("sync failed", extra={"job_id": job_id, "provider": connection.provider})
        _fail(job, "The sync failed on our side; nothing was changed.")


def _fail(job: SyncJob, message: str) -> None:
    SyncJob.objects.filter(pk=job.pk).update(
        status=SyncStatus.FAILED, finished_at=timezone.now(), error=message[:500]
    )
    connection_sync_failed(connection_id=job.connection_id)
    logger.info("sync failed", extra={"job_id": job.pk, "error": message[:500]})


def sync_retry_delay(failures: int) -> timedelta:
    """How long the scheduler waits after ``failures`` failed syncs in a row: nothing after
    the first, then ``CONNECTION_SYNC_RETRY_BASE_SECONDS`` doubling with each further one, at
    most ``CONNECTION_SYNC_RETRY_MAX_SECONDS``."""
    if failures <= 1:
        return timedelta(0)
    cap = settings.CONNECTION_SYNC_RETRY_MAX_SECONDS
    # The exponent is bounded so the power stays small whatever the count.
    seconds = settings.CONNECTION_SYNC_RETRY_BASE_SECONDS * 2 ** min(failures - 2, 32)
    return timedelta(seconds=min(seconds, cap))


def connection_sync_failed(*, connection_id: int) -> None:
    """Count one more failed sync of the connection and push its next scheduled one back."""
    ProviderConnection.objects.filter(pk=connection_id).update(sync_failures=F("sync_failures") + 1)
    failures = (
        ProviderConnection.objects.filter(pk=connection_id)
        .values_list("sync_failures", flat=True)
        .first()
    )
    if failures is not None:
        ProviderConnection.objects.filter(pk=connection_id).update(
            sync_retry_at=timezone.now() + sync_retry_delay(failures)
        )


def _total(session: ProviderSession) -> int | None:
    """The items the provider said it holds, never fewer than those already fetched (a
    listing that states no size still counts what came); None while it has said nothing."""
    if not session.expected:
        return None
    return max(session.expected, session.fetched)


def _fetch(connection: ProviderConnection, job: SyncJob) -> list[ProviderItem]:
    def progress(fetched: int) -> None:
        # Once per page (or list size stated): a page is a provider round trip of up to 50
        # items, so the beat costs little beside it, and what the API shows is never behind.
        job_beat(SyncJob.objects.filter(pk=job.pk), progress=fetched, total=_total(session))

    session = ProviderSession(
        tokens=connection_tokens(connection),
        account_id=connection.account_id,
        on_progress=progress,
    )
    with provider_get(connection.provider) as provider:
        try:
            expires = session.tokens.expires_at
            if expires is not None and expires - REFRESH_MARGIN <= datetime.now(UTC):
                session.tokens = provider.token_refresh(tokens=session.tokens)
                session.refreshed = True
            items = list(provider.taste_fetch(session=session))
        finally:
            if session.refreshed:
                connection_tokens_store(connection, session.tokens)
    # Fetched: the total is what came. Matching and writing follow in one transaction.
    job.progress = job.total = session.fetched
    job_beat(
        SyncJob.objects.filter(pk=job.pk),
        phase=SyncPhase.APPLYING,
        progress=job.progress,
        total=job.total,
    )
    return items


def provider_items_write(
    *,
    user: User,
    provider: str,
    source: str,
    items: Sequence[ProviderItem],
    report: BatchReport,
    **options: Any,
) -> CatalogueMatcher:
    """Match (or create) the catalogue rows of ``items`` by ``provider``'s ids, then write the
    edges they name as ``source`` through the set-based diff (``options``: those of
    ``taste_edges_apply``); the caller's transaction. Returns the matcher (what it created)."""
    matcher = CatalogueMatcher(provider=provider)
    rows = matcher.resolve(item.entry for item in items)
    wanted: dict[tuple[str, str, int], WantedEdge] = {}
    for item in items:
        row = rows[entry_key(item.entry)]
        edge = WantedEdge(
            relation=item.relation,
            kind=item.entry.kind,
            item=row,
            rank=item.rank,
            play_count=item.play_count,
            last_played_at=item.last_played_at,
        )
        # Two provider items naming one of our rows: the first (best ranked) wins.
        wanted.setdefault(edge.key, edge)
    taste_edges_apply(
        user=user, source=source, wanted=list(wanted.values()), report=report, **options
    )
    return matcher


def _apply(connection: ProviderConnection, job: SyncJob, items: list[ProviderItem]) -> None:
    with transaction.atomic():
        if not ProviderConnection.objects.select_for_update().filter(pk=connection.pk).exists():
            raise SyncAborted("The connection was removed while it synced; nothing was changed.")
        report = BatchReport()
        provider_items_write(
            user=connection.user,
            provider=connection.provider,
            source=connection.provider,
            items=items,
            report=report,
            replace_source=True,
        )
        now = timezone.now()
        job_beat(
            SyncJob.objects.filter(pk=job.pk),
            status=SyncStatus.SUCCEEDED,
            phase=SyncPhase.DONE,
            finished_at=now,
            progress=job.progress,
            total=job.total,
            counts=report.as_json(),
            error="",
        )
        ProviderConnection.objects.filter(pk=connection.pk).update(
            last_synced_at=now, sync_failures=0, sync_retry_at=None
        )
    logger.info(
        "sync succeeded",
        extra={
            "job_id": job.pk,
            "provider": connection.provider,
            "added": report.total("added"),
            "removed": report.total("removed"),
            "updated": report.total("updated"),
            "unchanged": report.total("unchanged"),
        },
    )
