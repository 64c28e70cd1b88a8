"""Connecting a music service: authorize, the provider's callback, sync requests, disconnect."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from musicbud.accounts.services import email_verified_require
from musicbud.connections.models import (
    AuthorizationState,
    ConnectionStatus,
    ProviderConnection,
    SyncJob,
    SyncStatus,
)
from musicbud.connections.providers.base import Provider, ProviderSession
from musicbud.connections.providers.errors import ProviderError, ProviderNotConfigured
from musicbud.connections.providers.registry import provider_get
from musicbud.connections.selectors import ConnectionView, connection_view
from musicbud.connections.sync import connection_tokens_store
from musicbud.connections.token_cipher import token_decrypt, token_encrypt
from musicbud.errors import Conflict, MusicbudError, NotFound, ServiceUnavailable
from musicbud.models import User
from musicbud.services.taste_batch import taste_edges_apply

STATE_TTL = timedelta(minutes=10)


class InvalidState(MusicbudError):
    code = "invalid_state"
    status_code = HTTPStatus.BAD_REQUEST


class OtherBrowser(InvalidState):
    code = "authorization_other_browser"


class TaskRunnerUnavailable(ServiceUnavailable):
    code = "task_runner_unavailable"


class CallbackFailed(MusicbudError):
    """The provider did not grant access (the user declined, or the exchange failed)."""

    code = "provider_callback_failed"
    status_code = HTTPStatus.BAD_GATEWAY


@dataclass(frozen=True, slots=True)
class AuthorizationOut:
    authorization_url: str
    state: str
    # For the browser that asked only (a cookie scoped to ``callback_url``'s path): the
    # callback must bring it back, so a link carrying the state works in no other browser.
    browser_key: str
    callback_url: str


def provider_ready(name: str) -> Provider[Any]:
    """The provider of that name (404 when unknown), refusing with 409 when unconfigured."""
    provider = provider_get(name)
    if not provider.configured():
        raise ProviderNotConfigured(
            f"{provider.label} is not configured on this server (its client credentials are "
            "not in the settings)"
        )
    return provider


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _authorize(*, user: User, provider: str) -> AuthorizationOut:
    with provider_ready(provider) as service:
        state = secrets.token_urlsafe(32)
        browser_key = secrets.token_urlsafe(32)
        start = service.authorization_start(state=state)
        callback_url = service.callback_url()
    now = timezone.now()
    with transaction.atomic():
        AuthorizationState.objects.filter(expires_at__lte=now).delete()
        AuthorizationState.objects.create(
            state_hash=_state_hash(state),
            browser_hash=_state_hash(browser_key),
            user=user,
            provider=provider,
            code_verifier=token_encrypt(start.code_verifier),
            expires_at=now + STATE_TTL,
        )
    return AuthorizationOut(
        authorization_url=start.url,
        state=state,
        browser_key=browser_key,
        callback_url=callback_url,
    )


async def connection_authorize(*, user: User, provider: str) -> AuthorizationOut:
    """Start connecting: the provider URL to send the browser to, the state it carries back
    (random, single-use, bound to the user, valid for ten minutes), and the key the browser
    keeps (a cookie) to prove at the callback that it is the one that started."""
    email_verified_require(user=user, action="connect")
    return await sync_to_async(_authorize)(user=user, provider=provider)


def _state_consume(*, provider: str, state: str, browser_key: str) -> AuthorizationState:
    """The state's row, deleted (committed at once: a state works once, whatever follows),
    when ``browser_key`` is the one given to the browser that started."""
    with transaction.atomic():
        row = (
            AuthorizationState.objects.select_for_update()
            .select_related("user")
            .filter(state_hash=_state_hash(state), provider=provider)
            .first()
        )
        if row is not None:
            row.delete()
    if row is None or row.expires_at <= timezone.now() or not row.user.is_active:
        raise InvalidState(
            "The authorization state is unknown, expired or already used; start connecting again."
        )
    if not hmac.compare_digest(row.browser_hash, _state_hash(browser_key)):
        raise OtherBrowser(
            "This authorization was started in another browser (or its cookie is gone): "
            "start connecting again from this browser."
        )
    return row


def _callback(*, provider: str, params: Mapping[str, str], browser_key: str) -> ConnectionView:
    with provider_ready(provider) as service:
        row = _state_consume(
            provider=provider, state=params.get("state", ""), browser_key=browser_key
        )
        if params.get("error"):
            raise CallbackFailed(
                f"{service.label} did not grant access ({params['error'][:100]})",
                status_code=HTTPStatus.BAD_REQUEST,
            )
        grant = service.callback_grant(params)
        if not grant:
            raise CallbackFailed(
                f"{service.label} sent no grant to exchange", status_code=HTTPStatus.BAD_REQUEST
            )
        try:
            tokens = service.code_exchange(
                grant=grant, code_verifier=token_decrypt(row.code_verifier)
            )
            session = ProviderSession(tokens=tokens, account_id=tokens.account_id)
            account = service.account_read(session=session)
        except ProviderError as exc:
            raise CallbackFailed(exc.message) from None
    with transaction.atomic():
        connection, _ = ProviderConnection.objects.select_for_update().get_or_create(
            user=row.user,
            provider=provider,
            defaults={"account_id": account.id, "connected_at": timezone.now()},
        )
        connection.account_id = account.id[:200]
        connection.account_name = account.display_name[:200]
        connection.status = ConnectionStatus.CONNECTED
        connection.connected_at = timezone.now()
        connection.save()
        connection_tokens_store(connection, session.tokens)
        # Celery (the tasks module) is imported where a job is queued, not in every worker.
        from musicbud.connections.tasks import sync_job_open

        job = sync_job_open(connection=connection)
        # Read before commit hands the first sync to the task runner: the answer shows it
        # queued, never half run, whichever runner takes it ...
        view = connection_view(user_id=row.user.pk, provider=provider)
    if _not_queued(job):
        # ... unless the runner refused it: connected all the same, the sync says why not.
        return connection_view(user_id=row.user.pk, provider=provider)
    return view


def _not_queued(job: SyncJob) -> bool:
    """Whether the task runner's broker refused the job (which is then failed, saying so)."""
    from musicbud.connections.tasks import SYNC_NOT_QUEUED

    return SyncJob.objects.filter(
        pk=job.pk, status=SyncStatus.FAILED, error=SYNC_NOT_QUEUED
    ).exists()


async def connection_callback(
    *, provider: str, params: Mapping[str, str], browser_key: str
) -> ConnectionView:
    """Finish connecting from the provider's redirect: the state names the user, and
    ``browser_key`` (the browser's cookie) must be the one given with that state. Exchanges
    the grant, stores the tokens encrypted, reads the account and queues the first sync.

    InvalidState (400) for a forged, expired or used state, OtherBrowser (400) for a browser
    other than the one that started (the state is spent either way), storing nothing;
    CallbackFailed when the provider did not grant access.
    """
    return await sync_to_async(_callback)(
        provider=provider, params=dict(params), browser_key=browser_key
    )


def _sync_request(*, user: User, provider: str) -> ConnectionView:
    from musicbud.connections.tasks import SYNC_NOT_QUEUED, sync_job_open

    provider_ready(provider).close()
    connection = ProviderConnection.objects.filter(user=user, provider=provider).first()
    if connection is None:
        raise Conflict(f"{provider} is not connected", code="not_connected")
    if connection.status == ConnectionStatus.NEEDS_REAUTH:
        raise Conflict(
            f"{provider} needs to be authorized again before it can sync", code="needs_reauth"
        )
    with transaction.atomic():
        job = sync_job_open(connection=connection)
        # The job as opened (queued, or the one already running): read before commit hands
        # it to the task runner, so the 202 never shows a sync that already ended.
        view = connection_view(user_id=user.pk, provider=provider)
    if _not_queued(job):
        raise TaskRunnerUnavailable(SYNC_NOT_QUEUED)
    return view


async def connection_sync_request(*, user: User, provider: str) -> ConnectionView:
    """Queue a sync (or answer the one queued or running: never two for one connection); the
    connection as it was queued, never a finished sync.

    TaskRunnerUnavailable (503) when the task runner's broker did not take the job (the job
    is failed, so the next request opens a new one).
    """
    return await sync_to_async(_sync_request)(user=user, provider=provider)


def _disconnect(*, user: User, provider: str) -> None:
    provider_get(provider).close()
    with transaction.atomic():
        connection = (
            ProviderConnection.objects.select_for_update()
            .filter(user=user, provider=provider)
            .first()
        )
        if connection is None:
            raise NotFound(f"{provider} is not connected", code="connection_not_found")
        # The provider's edges go through the taste services (versions, outbox, caches);
        # edges from every other source stay.
        taste_edges_apply(user=user, source=provider, wanted=[], replace_source=True)
        connection.delete()


async def connection_disconnect(*, user: User, provider: str) -> None:
    """Forget the connection: its tokens, and the taste edges that came from it (404 when
    not connected)."""
    await sync_to_async(_disconnect)(user=user, provider=provider)
