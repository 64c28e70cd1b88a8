"""Blocks and privacy settings on every legacy route that shows another person, held to what
v1 does in the same case (``musicbud/relationships/visibility.py``):

- across a block, either way, the person is an unknown user on every lookup (the 404 an
  unknown uid or username gets, word for word) and absent from every list;
- ``discoverable`` narrower than everyone leaves them out of bud lists, item buds and search,
  but not out of a lookup by id or name;
- ``taste_visible_to`` leaving me out is a 403 ``taste_hidden`` wherever their taste would
  show (their lists, what we share, how alike we are), while their profile still answers.

The blocks and settings are made through v1, as the apps make them, so the bud pages cached
before (each test reads the lists first) must change on the next request."""

from __future__ import annotations

import re
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

import api.legacy.api  # noqa: F401 - adding its routers declares the legacy ROUTES
from api.legacy.operations import ROUTES
from musicbud.kinds import KINDS
from musicbud.models import Relation, User
from musicbud.relationships.models import FriendRequest, Friendship
from musicbud.services.taste import taste_edge_set
from musicbud.services.tokens import token_pair_issue
from tests.api.legacy.conftest import LegacyWorld
from tests.factories import AlbumFactory, GenreFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.relationships import block, privacy_set, unblock

pytestmark = pytest.mark.django_db

TASTE_HIDDEN = "This person keeps their taste to themselves"


def _routes(pattern: str) -> list[str]:
    return sorted(path for path in ROUTES if re.fullmatch(pattern, path))


# The legacy routes that show another person, by family (every one, as declared).
PROFILE = "users/{user_id}"
TASTE_LISTS = _routes(r"users/\{user_id\}/.+")
COMMON = _routes(r"bud/common/.+")
BUD_CELLS = _routes(r"bud/(liked|top|played)/[a-z]+")
ITEM_BUDS = {f"bud/{spec.kind.value}": spec.kind.value for spec in KINDS if spec.legacy_item_buds}
BUD_PROFILE = "bud/profile"
BUD_SEARCH = "bud/search"  # the search, and with {userId} the bud requests
# The legacy routes that show nobody but me (or nobody at all).
SHOWS_NO_ONE_ELSE = (
    r"login|register|token/refresh|logout|me/.+|service/login|[a-z]+/(connect|callback)"
)


def test_every_legacy_route_showing_a_person_is_probed_here() -> None:
    """A legacy route added later fails here until it is probed below or said to show no one
    else."""
    people = {PROFILE, *TASTE_LISTS, *COMMON, *BUD_CELLS, *ITEM_BUDS, BUD_PROFILE, BUD_SEARCH}
    others = set(_routes(SHOWS_NO_ONE_ELSE))

    assert people <= set(ROUTES)
    assert not people & others
    assert set(ROUTES) - people - others == set()
    # Not an empty pattern: each family is there.
    assert len(TASTE_LISTS) == len(COMMON) == len(BUD_CELLS) - 1 == 10
    assert set(ITEM_BUDS) == {"bud/track", "bud/artist", "bud/album", "bud/genre"}


# --- helpers ----------------------------------------------------------------------------------


def _sides(legacy: LegacyWorld, blocker: str) -> tuple[User, User]:
    """(blocker, blocked): ana blocks me (``they``) or I block ana (``i``)."""
    me, ana = legacy.world.me, legacy.world.users["ana"]
    return (ana, me) if blocker == "they" else (me, ana)


def _as(legacy: LegacyWorld, user: User) -> LegacyWorld:
    return LegacyWorld(
        world=legacy.world, tokens=async_to_sync(token_pair_issue)(user=user), client=Client()
    )


def _befriend(legacy: LegacyWorld, name: str) -> None:
    """I ask, they accept: the legacy app's bud requests."""
    other = legacy.world.users[name]
    asked = legacy.call("POST", "/v1/bud/search/", {"userId": other.public_id.hex})
    assert asked.status_code == HTTPStatus.CREATED, asked.content
    accepted = _as(legacy, other).call(
        "POST", "/bud/search", {"userId": legacy.world.me.public_id.hex, "action": "accept"}
    )
    assert accepted.status_code == HTTPStatus.OK, accepted.content
    assert Friendship.objects.count() == 1


def _legacy_error(response: Any, status: int, code: str, message: str) -> None:
    assert_envelope(response, status, code, message, extra={"success": False})


def _unknown_user(response: Any, message: str) -> None:
    _legacy_error(response, HTTPStatus.NOT_FOUND, "user_not_found", message)


def _taste_hidden(response: Any) -> None:
    _legacy_error(response, HTTPStatus.FORBIDDEN, "taste_hidden", TASTE_HIDDEN)


def _page(legacy: LegacyWorld, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every row of a legacy page (one page of 100), checked for its envelope."""
    response = legacy.call("POST", f"/{path}?page_size=100", data)
    assert response.status_code == HTTPStatus.OK, (path, response.content)
    body: dict[str, Any] = response.json()
    assert body["count"] == len(body["data"]), path
    assert body["results"] == body["data"], path
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [row["bud"]["username"] if "bud" in row else row["username"] for row in body["data"]]


def _without(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The rows of a page but that person's, in their order."""
    return [row for row, who in zip(body["data"], _names(body), strict=True) if who != name]


def _rows(lists: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each list's rows, by its route."""
    return {path: body["data"] for path, body in lists.items()}


def _rows_without(lists: dict[str, dict[str, Any]], name: str) -> dict[str, list[dict[str, Any]]]:
    """Each list's rows but that person's, in their order, by its route."""
    return {path: _without(body, name) for path, body in lists.items()}


@pytest.fixture
def items(legacy: LegacyWorld) -> dict[str, str]:
    """An item of every kind with legacy item buds that ana holds (with others, for the
    artist), by its route: ``rare1`` (also mine), ``other`` (also ben's and dan's), an album
    and a genre of hers alone."""
    ana = legacy.world.users["ana"]
    album, genre = AlbumFactory.create(name="ana-album"), GenreFactory.create(name="ana-genre")
    taste_edge_set(user=ana, kind="album", item=album, relation=Relation.LIKE)
    taste_edge_set(user=ana, kind="genre", item=genre, relation=Relation.LIKE)
    taste_edge_set(user=ana, kind="artist", item=legacy.world.artists["other"], relation="like")
    return {
        "bud/track": legacy.world.tracks["rare1"].public_id.hex,
        "bud/artist": legacy.world.artists["other"].public_id.hex,
        "bud/album": album.public_id.hex,
        "bud/genre": genre.public_id.hex,
    }


def _lists(legacy: LegacyWorld, items: dict[str, str], search: str) -> dict[str, dict[str, Any]]:
    """Every list that may show a person, whole: my bud cells, each item's buds, a search."""
    pages = {path: _page(legacy, path) for path in BUD_CELLS}
    for path, kind in ITEM_BUDS.items():
        pages[path] = _page(legacy, path, {f"{kind}_id": items[path]})
    pages[BUD_SEARCH] = _page(legacy, BUD_SEARCH, {"query": search})
    return pages


def _lookups(uid: str, username: str) -> list[tuple[str, dict[str, str]]]:
    """Every lookup of one person: their profile and lists by uid, what we share and their bud
    profile by uid and by username."""
    by_uid: list[tuple[str, dict[str, str]]] = [
        (path.replace("{user_id}", uid), {}) for path in (PROFILE, *TASTE_LISTS)
    ]
    for path in (*COMMON, BUD_PROFILE):
        by_uid += [(path, {"bud_id": uid}), (path, {"username": username})]
    return by_uid


# --- a block, either way ----------------------------------------------------------------------


@pytest.mark.parametrize("blocker", ["they", "i"], ids=["they-blocked-me", "i-blocked-them"])
def test_across_a_block_every_lookup_is_the_404_of_an_unknown_user(
    legacy: LegacyWorld, blocker: str
) -> None:
    ana = legacy.world.users["ana"]
    lookups = _lookups(ana.public_id.hex, "ana")
    for path, data in lookups:
        assert legacy.call("POST", f"/{path}", data).status_code == HTTPStatus.OK, path

    block(*_sides(legacy, blocker))

    for path, data in lookups:
        response = legacy.call("POST", f"/{path}", data)
        if "username" in data:
            _unknown_user(response, "No user named 'ana'")
        else:
            _unknown_user(response, f"No user with id {ana.public_id}")
    # Word for word what someone who does not exist gets.
    for path, data in _lookups("0" * 32, "nobody"):
        response = legacy.call("POST", f"/{path}", data)
        if "username" in data:
            _unknown_user(response, "No user named 'nobody'")
        else:
            _unknown_user(response, f"No user with id {uuid.UUID(int=0)}")


@pytest.mark.parametrize("blocker", ["they", "i"], ids=["they-blocked-me", "i-blocked-them"])
def test_across_a_block_bud_requests_are_the_404_of_an_unknown_user(
    legacy: LegacyWorld, blocker: str
) -> None:
    me, ana = legacy.world.me, legacy.world.users["ana"]
    block(*_sides(legacy, blocker))

    hers = _as(legacy, ana)
    for action in ({}, {"action": "accept"}, {"action": "reject"}, {"action": "remove"}):
        response = legacy.call("POST", "/v1/bud/search/", {"userId": ana.public_id.hex, **action})
        _unknown_user(response, f"No user with id {ana.public_id}")
        # And the other way: ana cannot reach me either.
        theirs = hers.call("POST", "/bud/search", {"userId": me.public_id.hex, **action})
        _unknown_user(theirs, f"No user with id {me.public_id}")
    assert FriendRequest.objects.count() == 0


@pytest.mark.parametrize("blocker", ["they", "i"], ids=["they-blocked-me", "i-blocked-them"])
def test_across_a_block_both_leave_each_others_lists_at_once_and_come_back(
    legacy: LegacyWorld, items: dict[str, str], blocker: str
) -> None:
    me, ana = legacy.world.me, legacy.world.users["ana"]
    hers = _as(legacy, ana)
    before = _lists(legacy, items, "n")  # cached now, bud cells and counts
    theirs_before = _page(hers, "bud/liked/aio")
    assert _names(before["bud/liked/aio"]) == ["ben", "ana", "cat"]
    # (ben and cat tie on liked tracks, as ana and dan on the artist: any order among them.)
    assert sorted(_names(before["bud/liked/tracks"])) == ["ana", "ben", "cat"]
    assert {path: sorted(_names(before[path])) for path in ITEM_BUDS} == {
        "bud/track": ["ana"],
        "bud/artist": ["ana", "ben", "dan"],
        "bud/album": ["ana"],
        "bud/genre": ["ana"],
    }
    assert _names(before[BUD_SEARCH]) == ["ana", "ben", "dan"]
    assert me.username in _names(theirs_before)

    block(*_sides(legacy, blocker))

    after = _lists(legacy, items, "n")
    # Exactly the lists before, but ana: the others keep their rows, scores and order.
    assert _rows(after) == _rows_without(before, "ana")
    assert _names(after["bud/liked/aio"]) == ["ben", "cat"]
    assert after["bud/track"]["message"] == "No buds found."
    assert _names(after[BUD_SEARCH]) == ["ben", "dan"]
    assert _page(hers, "bud/liked/aio")["data"] == _without(theirs_before, me.username)
    # Left out inside the ranking, not after a page is cut: full pages, counts that agree.
    first = legacy.call("GET", "/bud/liked/aio", {"page_size": 1}).json()
    second = legacy.call("GET", "/bud/liked/aio", {"page_size": 1, "page": 2}).json()
    assert (_names(first), _names(second), first["count"]) == (["ben"], ["cat"], 2)
    assert second["next"] is None
    past = legacy.call("GET", "/bud/liked/aio", {"page_size": 1, "page": 3})
    _legacy_error(past, HTTPStatus.NOT_FOUND, "invalid_page", "Invalid page.")

    unblock(*_sides(legacy, blocker))

    assert _lists(legacy, items, "n") == before


# --- a hidden taste ---------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["nobody", "friends"])
def test_a_taste_hidden_from_me_is_a_403_wherever_it_would_show(
    legacy: LegacyWorld, audience: str
) -> None:
    ana = legacy.world.users["ana"]
    uid = ana.public_id.hex
    profile = legacy.call("GET", f"/users/{uid}").json()
    bud_profile = legacy.call("POST", "/bud/profile", {"bud_id": uid}).json()
    assert bud_profile["data"]["similarity_score"] > 0

    privacy_set(ana, taste_visible_to=audience)

    # Her profile still answers, as v1's does (which drops its taste counts: this one has
    # none); her taste, what we share and how alike we are do not.
    assert legacy.call("GET", f"/users/{uid}").json() == profile
    for path, data in _lookups(uid, "ana"):
        if path.removeprefix("users/") == uid:
            continue
        _taste_hidden(legacy.call("POST", f"/{path}", data))
    # She still sees her own.
    mine = _page(_as(legacy, ana), f"users/{uid}/liked/tracks")
    assert [item["name"] for item in mine["data"]] == ["deep", "rare2", "rare1"]

    if audience == "friends":
        _befriend(legacy, "ana")
        liked = _page(legacy, f"users/{uid}/liked/tracks")
        assert [item["name"] for item in liked["data"]] == ["deep", "rare2", "rare1"]
        common = _page(legacy, "bud/common/liked/tracks", {"username": "ana"})
        assert sorted(item["name"] for item in common["data"]) == ["rare1", "rare2"]
        shown = legacy.call("POST", "/bud/profile", {"bud_id": uid}).json()
        assert shown["data"]["similarity_score"] > 0


def test_how_alike_we_are_is_never_shown_of_someone_hiding_both(legacy: LegacyWorld) -> None:
    """Not listed and taste hidden: v1 shows our score nowhere (not among my buds, a 403 for
    compatibility); bud/profile, which summed it from what we share, does not either."""
    ana = legacy.world.users["ana"]

    privacy_set(ana, discoverable="nobody", taste_visible_to="nobody")

    v1_buds = legacy.client.get("/api/v1/me/buds", headers=legacy.headers).json()
    assert [bud["user"]["username"] for bud in v1_buds["items"]] == ["ben", "cat"]
    compatibility = legacy.client.get("/api/v1/users/ana/compatibility", headers=legacy.headers)
    assert_envelope(compatibility, HTTPStatus.FORBIDDEN, "taste_hidden", TASTE_HIDDEN)
    for data in ({"bud_id": ana.public_id.hex}, {"bud_id": "ana"}, {"username": "ANA"}):
        _taste_hidden(legacy.call("POST", "/v1/bud/profile/", data))
    # Her profile alone still answers.
    assert legacy.call("GET", f"/users/{ana.public_id.hex}").status_code == HTTPStatus.OK


def test_a_hidden_taste_leaves_item_buds_but_not_my_bud_lists_as_on_v1(
    legacy: LegacyWorld, items: dict[str, str]
) -> None:
    """``taste_visible_to`` is not ``discoverable``: ana stays among my buds (her score; the
    legacy rows carry no shared items, v1's leave them out) and in search, as on v1; an
    item's buds are who holds it, her taste, so she leaves those, as on v1."""
    before = _lists(legacy, items, "n")
    assert all("ana" in _names(before[path]) for path in ITEM_BUDS)

    privacy_set(legacy.world.users["ana"], taste_visible_to="nobody")

    after = _lists(legacy, items, "n")
    assert {path: rows for path, rows in _rows(after).items() if path not in ITEM_BUDS} == {
        path: rows for path, rows in _rows(before).items() if path not in ITEM_BUDS
    }
    assert {path: after[path]["data"] for path in ITEM_BUDS} == {
        path: _without(before[path], "ana") for path in ITEM_BUDS
    }
    v1 = legacy.client.get("/api/v1/me/buds?source=likes", headers=legacy.headers).json()
    assert [(b["user"]["username"], b["score"]) for b in v1["items"]] == [
        (row["bud"]["username"], row["similarity_score"]) for row in before["bud/liked/aio"]["data"]
    ]


# --- not discoverable -------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["nobody", "friends"])
def test_someone_not_discoverable_by_me_leaves_bud_lists_and_search(
    legacy: LegacyWorld, items: dict[str, str], audience: str
) -> None:
    ben = legacy.world.users["ben"]
    before = _lists(legacy, items, "n")
    assert _names(before["bud/liked/aio"]) == ["ben", "ana", "cat"]
    assert sorted(_names(before["bud/artist"])) == ["ana", "ben", "dan"]
    assert _names(before["bud/played/tracks"]) == ["ben"]
    hit = _page(legacy, "bud/track", {"track_id": legacy.world.tracks["hit"].public_id.hex})
    assert _names(hit) == ["ben", "cat"]
    lookups = {
        (path, tuple(data.items())): legacy.call("POST", f"/{path}", data).json()
        for path, data in _lookups(ben.public_id.hex, "ben")
    }

    privacy_set(ben, discoverable=audience)

    after = _lists(legacy, items, "n")
    assert _rows(after) == _rows_without(before, "ben")
    assert _names(after["bud/liked/aio"]) == ["ana", "cat"]
    assert after["bud/played/tracks"]["message"] == "No buds found."
    assert _names(after[BUD_SEARCH]) == ["ana", "dan"]
    hit_after = _page(legacy, "bud/track", {"track_id": legacy.world.tracks["hit"].public_id.hex})
    assert hit_after["data"] == _without(hit, "ben")
    # Not listed is not unknown: by uid or username he answers as before (as on v1), his
    # score on his bud profile included.
    for (path, data), body in lookups.items():
        assert legacy.call("POST", f"/{path}", dict(data)).json() == body, path

    if audience == "friends":
        _befriend(legacy, "ben")
        assert _lists(legacy, items, "n") == before
