"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from musicbud.models import Artist, Track, User
from musicbud.services.taste import like_add
from tests.factories import ArtistFactory, TrackFactory, UserFactory


def require_service(name: str, reason: str) -> None:
    """A test that needs an unavailable service fails in CI and skips elsewhere, saying why."""
    message = f"{name} unavailable: {reason}"
    if settings.CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def api_client(user: User) -> Client:
    """A Django test client signed in (session) as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def thread_sensitive_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every thread-sensitive ``sync_to_async`` call (the expensive hop) by name."""
    calls: list[str] = []
    original = SyncToAsync.__call__

    async def counting_call(self: SyncToAsync[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._thread_sensitive:
            # Never repr() the callable: a bound QuerySet method's repr runs the query.
            calls.append(getattr(self.func, "__qualname__", None) or type(self.func).__name__)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting_call)
    return calls


@pytest.fixture
def auth_queries(api_client: Client) -> int:
    """Database queries the auth layer in front of every endpoint makes per request.

    Measured on a warm ``GET /me/profile``, whose own work makes no query (see
    tests/api/test_profile.py), so list tests can assert their exact count on top of it
    whichever auth class and session backend are in place.
    """
    url = reverse("api-v1:my-profile")
    api_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        api_client.get(url)
    return len(queries)


@dataclass
class BudWorld:
    """``me`` (the ``user`` fixture) and the people around them; see ``bud_world``."""

    me: User
    users: dict[str, User]
    tracks: dict[str, Track]
    artists: dict[str, Artist]


@pytest.fixture
def bud_world(user: User) -> BudWorld:
    """A small taste world, written through the taste services.

    ``me`` likes the popular ``hit``, two rare tracks and the artist ``band``. ``ana`` shares
    both rare tracks, ``ben`` the hit and the band, ``cat`` only the hit (which everybody
    likes), ``dan`` nothing, ``eve`` (inactive) a rare track.
    """
    tracks = {name: TrackFactory.create(name=name) for name in ("hit", "rare1", "rare2", "deep")}
    artists = {name: ArtistFactory.create(name=name) for name in ("band", "other")}
    users = {
        name: UserFactory.create(username=name, display_name=name.title())
        for name in ("ana", "ben", "cat", "dan", "eve")
    }
    users["eve"].is_active = False
    users["eve"].save(update_fields=["is_active"])
    likes = {
        "me": ["hit", "rare1", "rare2", "band"],
        "ana": ["rare1", "rare2", "deep"],
        "ben": ["hit", "band", "other"],
        "cat": ["hit"],
        "dan": ["deep", "other"],
        "eve": ["hit", "rare1"],
    }
    for name, items in likes.items():
        person = user if name == "me" else users[name]
        for item_name in items:
            if item_name in tracks:
                like_add(user=person, kind="track", item=tracks[item_name])
            else:
                like_add(user=person, kind="artist", item=artists[item_name])
    return BudWorld(me=user, users=users, tracks=tracks, artists=artists)
