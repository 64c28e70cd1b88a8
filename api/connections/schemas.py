"""Schemas of the connections area (never a token)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from ninja import Schema
from pydantic import Field


class ProviderName(StrEnum):
    SPOTIFY = "spotify"
    LASTFM = "lastfm"


class AccountOut(Schema):
    id: str = Field(description="The account's id at the provider.")
    display_name: str


class SyncOut(Schema):
    status: str = Field(description="queued | running | succeeded | failed")
    started_at: datetime | None
    finished_at: datetime | None
    progress: int = Field(description="Items fetched from the provider so far.")
    counts: dict[str, dict[str, dict[str, int]]] = Field(
        description="Per relation and kind: added, updated, removed, unchanged."
    )
    error: str | None = Field(description="Why the sync failed, as a sentence.")


class ConnectionOut(Schema):
    provider: str
    status: str = Field(description="unconfigured | available | connected | needs_reauth")
    account: AccountOut | None
    connected_at: datetime | None
    last_sync: SyncOut | None


class ConnectionsOut(Schema):
    items: list[ConnectionOut]


class AuthorizationOut(Schema):
    authorization_url: str = Field(description="Send the user's browser here.")
    state: str = Field(description="Comes back on the callback; valid once, for 10 minutes.")


class CallbackOut(Schema):
    provider: str
    status: str = Field(description="ok")
    connection: ConnectionOut


def counts_schema_example() -> dict[str, Any]:
    return {"like": {"track": {"added": 2, "updated": 0, "removed": 1, "unchanged": 10}}}
