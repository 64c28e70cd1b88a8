"""Schemas of the connections area (never a token)."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field

from api import examples
from api.examples import answer_example


class AccountOut(Schema):
    id: str = Field(description="The account's id at the provider.")
    display_name: str


class SyncOut(Schema):
    model_config = answer_example(examples.SYNC)

    status: str = Field(description="queued | running | succeeded | failed")
    phase: str = Field(
        description=(
            "waiting (for the task runner) | fetching (reading the library from the provider) "
            "| applying (matching the items and writing the difference, all at once) | done. "
            "A failed sync keeps the phase it failed in."
        )
    )
    started_at: datetime | None
    finished_at: datetime | None
    progress: int = Field(description="Items fetched from the provider so far.")
    total: int | None = Field(
        description=(
            "The items the provider said the library holds, as far as it has said (null "
            "until it says); from the applying phase on, the items fetched. progress ≤ total."
        )
    )
    counts: dict[str, dict[str, dict[str, int]]] = Field(
        description="Per relation and kind: added, updated, removed, unchanged."
    )
    error: str | None = Field(description="Why the sync failed, as a sentence.")


class ConnectionOut(Schema):
    model_config = answer_example(examples.CONNECTION)

    provider: str
    status: str = Field(description="unconfigured | available | connected | needs_reauth")
    account: AccountOut | None
    connected_at: datetime | None
    last_sync: SyncOut | None


class ConnectionsOut(Schema):
    model_config = answer_example(examples.CONNECTIONS)

    items: list[ConnectionOut]


class AuthorizationOut(Schema):
    model_config = answer_example(examples.AUTHORIZATION)

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
    model_config = answer_example(examples.CALLBACK)

    provider: str
    status: str = Field(description="ok")
    connection: ConnectionOut
