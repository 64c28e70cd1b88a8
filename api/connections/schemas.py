"""Schemas of the connections area (never a token)."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field


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


class CallbackQuery(Schema):
    """What the provider appends to the callback URL."""

    state: str = Field(max_length=200, description="The state `authorize` answered.")
    code: str | None = Field(
        None, max_length=2000, description="The authorization code (Spotify, Google, MyAnimeList)."
    )
    token: str | None = Field(None, max_length=200, description="Last.fm's token.")
    error: str | None = Field(None, max_length=200, description="Why access was not granted.")

    def params(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class CallbackOut(Schema):
    provider: str
    status: str = Field(description="ok")
    connection: ConnectionOut
