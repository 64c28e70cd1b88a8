"""The world the legacy tests call into: ``bud_world`` plus top items and plays, and a login."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from musicbud.services.taste import taste_edge_set
from musicbud.services.tokens import TokenPair, token_pair_issue
from tests.fixtures.http import bearer
from tests.fixtures.taste import BudWorld

# The User-Agent of the Flutter app's HTTP client (dart:io).
DART_AGENT = "Dart/3.3 (dart:io)"


@dataclass
class LegacyWorld:
    world: BudWorld
    tokens: TokenPair
    client: Client

    @property
    def headers(self) -> dict[str, str]:
        return {**bearer(self.tokens.access_token), "User-Agent": DART_AGENT}

    def call(self, method: str, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        """POST and PUT send ``data`` as JSON; GET sends it as the query string."""
        headers = {**self.headers, **extra.pop("headers", {})}
        if method == "GET":
            return self.client.get(path, data or {}, headers=headers, **extra)
        if method == "PUT":
            return self.client.put(
                path, data or {}, content_type="application/json", headers=headers, **extra
            )
        return self.client.post(
            path, data or {}, content_type="application/json", headers=headers, **extra
        )


@pytest.fixture
def legacy(bud_world: BudWorld) -> LegacyWorld:
    """``me`` also ranks ``band`` and ``hit`` first and played ``hit`` 5 times; ``ben`` ranks
    ``band`` first and played ``hit`` twice; ``ana`` ranks ``rare1`` first."""
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    band, hit, rare1 = bud_world.artists["band"], bud_world.tracks["hit"], bud_world.tracks["rare1"]
    for person, kind, item in ((me, "artist", band), (me, "track", hit), (ben, "artist", band)):
        taste_edge_set(user=person, kind=kind, item=item, relation="top", rank=1)
    taste_edge_set(user=ana, kind="track", item=rare1, relation="top", rank=1)
    taste_edge_set(user=me, kind="track", item=hit, relation="played", play_count=5)
    taste_edge_set(user=ben, kind="track", item=hit, relation="played", play_count=2)
    tokens = async_to_sync(token_pair_issue)(user=me)
    return LegacyWorld(world=bud_world, tokens=tokens, client=Client())
