"""Reads of a user's provider connections: one per known provider, with the last sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async

from musicbud.connections.models import ProviderConnection, SyncJob
from musicbud.connections.providers.registry import PROVIDER_NAMES, provider_get


@dataclass(frozen=True, slots=True)
class SyncView:
    status: str
    phase: str
    started_at: datetime | None
    finished_at: datetime | None
    progress: int
    total: int | None
    counts: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class AccountView:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """``status``: unconfigured | available | connected | needs_reauth. No tokens."""

    provider: str
    status: str
    account: AccountView | None
    connected_at: datetime | None
    last_sync: SyncView | None


def _sync_view(job: SyncJob | None) -> SyncView | None:
    if job is None:
        return None
    return SyncView(
        status=job.status,
        phase=job.phase,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=job.progress,
        total=job.total,
        counts=job.counts,
        error=job.error or None,
    )


def _views(user_id: int, providers: list[str]) -> list[ConnectionView]:
    connections = {
        c.provider: c
        for c in ProviderConnection.objects.filter(user_id=user_id, provider__in=providers)
        # Never load the token columns into a read path.
        .defer("access_token", "refresh_token")
    }
    latest: dict[int, SyncJob] = {}
    for job in SyncJob.objects.filter(
        connection_id__in=[c.pk for c in connections.values()]
    ).order_by("connection_id", "-id"):
        latest.setdefault(job.connection_id, job)
    views = []
    for name in providers:
        with provider_get(name) as provider:
            configured = provider.configured()
        connection = connections.get(name)
        if not configured:
            status = "unconfigured"
        elif connection is None:
            status = "available"
        else:
            status = connection.status
        views.append(
            ConnectionView(
                provider=name,
                status=status,
                account=(
                    AccountView(id=connection.account_id, display_name=connection.account_name)
                    if connection is not None
                    else None
                ),
                connected_at=connection.connected_at if connection is not None else None,
                last_sync=_sync_view(latest.get(connection.pk)) if connection else None,
            )
        )
    return views


def connection_view(*, user_id: int, provider: str) -> ConnectionView:
    """One connection (sync: for services already in their thread). 404 for an unknown
    provider."""
    provider_get(provider).close()
    return _views(user_id, [provider])[0]


async def connections_list(*, user_id: int) -> list[ConnectionView]:
    return await sync_to_async(_views)(user_id, list(PROVIDER_NAMES))


async def connection_get(*, user_id: int, provider: str) -> ConnectionView:
    return await sync_to_async(connection_view)(user_id=user_id, provider=provider)
