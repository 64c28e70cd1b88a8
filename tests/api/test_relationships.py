"""Relationships through the API: privacy settings, friend requests and friends, compatibility,
compare links; and blocks and privacy holding in every listing."""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from musicbud.chat.models import Block
from musicbud.imports.models import ImportFormat, ImportJob, ImportStatus
from musicbud.models import Relation, TasteEdge, User
from musicbud.relationships.models import CompareLink, FriendRequest, Friendship, RequestStatus
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.relationships import befriend, block, logged_in, privacy_set
from tests.fixtures.taste import BudWorld

pytestmark = pytest.mark.django_db


def _names(response: Any, path: tuple[str, ...] = ("user", "username")) -> list[str]:
    assert response.status_code == HTTPStatus.OK, response.content
    names = []
    for row in response.json()["items"]:
        for key in path:
            row = row[key]
        names.append(row)
    return names


# --- privacy ---------------------------------------------------------------------------------


def test_privacy_defaults_to_everyone_and_a_patch_changes_only_what_it_names(
    api_client: Client, user: User
) -> None:
    url = reverse("api-v1:my-privacy")
    assert api_client.get(url).json() == {
        "discoverable": "everyone",
        "taste_visible_to": "everyone",
    }

    assert privacy_set(user, discoverable="friends") == {
        "discoverable": "friends",
        "taste_visible_to": "everyone",
    }
    assert privacy_set(user, taste_visible_to="nobody") == {
        "discoverable": "friends",
        "taste_visible_to": "nobody",
    }
    assert api_client.get(url).json() == {"discoverable": "friends", "taste_visible_to": "nobody"}


def test_privacy_changes_are_rate_limited(user: User, settings: Any) -> None:
    # Each change drops the cached bud pages of everyone holding an item I hold.
    settings.RATE_LIMIT_STRICT_PER_MINUTE = 2
    client = logged_in(user)
    statuses = [
        client.patch(
            reverse("api-v1:my-privacy"), {"discoverable": value}, content_type="application/json"
        ).status_code
        for value in ("friends", "nobody", "everyone")
    ]

    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert client.get(reverse("api-v1:my-privacy")).json()["discoverable"] == "nobody"


def test_a_bad_privacy_value_is_a_422_and_changes_nothing(api_client: Client, user: User) -> None:
    response = api_client.patch(
        reverse("api-v1:my-privacy"), {"discoverable": "aliens"}, content_type="application/json"
    )

    assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert api_client.get(reverse("api-v1:my-privacy")).json()["discoverable"] == "everyone"


# --- blocks and privacy in the listings ------------------------------------------------------


def test_a_block_hides_both_people_from_each_others_buds_at_once(
    api_client: Client, bud_world: BudWorld
) -> None:
    url = reverse("api-v1:my-buds")
    assert _names(api_client.get(url)) == ["ben", "ana", "cat"]  # cached now
    ana = bud_world.users["ana"]

    block(ana, bud_world.me)

    # Ana blocked me: gone from my cached page on the next request, and I from hers.
    assert _names(api_client.get(url)) == ["ben", "cat"]
    assert bud_world.me.username not in _names(logged_in(ana).get(url))


def test_discoverable_nobody_leaves_every_listing_on_the_next_request(
    api_client: Client, bud_world: BudWorld
) -> None:
    url = reverse("api-v1:my-buds")
    assert _names(api_client.get(url)) == ["ben", "ana", "cat"]

    privacy_set(bud_world.users["ben"], discoverable="nobody")

    assert _names(api_client.get(url)) == ["ana", "cat"]
    track = bud_world.tracks["hit"]
    item_buds = api_client.get(reverse("api-v1:item-buds", args=["tracks", track.public_id]))
    assert "ben" not in _names(item_buds)
    assert _names(api_client.get(reverse("api-v1:user-search"), {"q": "be"}), ("username",)) == []

    privacy_set(bud_world.users["ben"], discoverable="everyone")
    assert _names(api_client.get(url)) == ["ben", "ana", "cat"]


def test_discoverable_friends_shows_me_to_friends_only(
    api_client: Client, bud_world: BudWorld
) -> None:
    ben = bud_world.users["ben"]
    privacy_set(ben, discoverable="friends")
    url = reverse("api-v1:my-buds")
    assert _names(api_client.get(url)) == ["ana", "cat"]

    Friendship.objects.create(
        low_id=min(ben.pk, bud_world.me.pk), high_id=max(ben.pk, bud_world.me.pk)
    )
    # A friendship made by the services bumps the pages; here, through the API, below.
    FriendRequest.objects.all().delete()
    Friendship.objects.all().delete()
    befriend(ben, bud_world.me)

    assert _names(api_client.get(url)) == ["ben", "ana", "cat"]


def test_taste_hidden_from_me_is_a_403_for_common_items_and_compatibility(
    api_client: Client, bud_world: BudWorld
) -> None:
    privacy_set(bud_world.users["ana"], taste_visible_to="nobody")

    common = api_client.get(reverse("api-v1:common-items", args=["ana"]))
    assert_envelope(common, HTTPStatus.FORBIDDEN, "taste_hidden")
    compat = api_client.get(reverse("api-v1:compatibility", args=["ana"]))
    assert_envelope(compat, HTTPStatus.FORBIDDEN, "taste_hidden")


def _rows(client: Client) -> dict[str, tuple[float, int, list[str], bool]]:
    response = client.get(reverse("api-v1:my-buds"))
    assert response.status_code == HTTPStatus.OK, response.content
    return {
        bud["user"]["username"]: (
            bud["score"],
            bud["shared_count"],
            sorted(shared["item"]["name"] for shared in bud["top_shared"]),
            bud["taste_hidden"],
        )
        for bud in response.json()["items"]
    }


def test_a_bud_whose_taste_is_hidden_from_me_is_listed_without_what_we_share(
    api_client: Client, bud_world: BudWorld
) -> None:
    ana = bud_world.users["ana"]
    before = _rows(api_client)  # cached: the change below must drop this page
    score, count = before["ana"][:2]
    assert before["ana"] == (score, 2, ["rare1", "rare2"], False)

    privacy_set(ana, taste_visible_to="nobody")
    hidden = _rows(api_client)
    assert hidden["ana"] == (score, count, [], True)  # listed: she lets me find her
    assert {name: row for name, row in hidden.items() if name != "ana"} == {
        name: row for name, row in before.items() if name != "ana"
    }
    her_buds = _rows(logged_in(ana))  # hiding her taste hides nothing from her
    assert {name: row[2:] for name, row in her_buds.items()} == {
        bud_world.me.username: (["rare1", "rare2"], False),
        "dan": (["deep"], False),
    }

    privacy_set(ana, taste_visible_to="friends")
    assert _rows(api_client)["ana"] == (score, count, [], True)  # we are not friends
    befriend(ana, bud_world.me)
    assert _rows(api_client)["ana"] == before["ana"]
    ended = api_client.delete(reverse("api-v1:my-friend", args=["ana"]))
    assert ended.status_code == HTTPStatus.NO_CONTENT
    assert _rows(api_client)["ana"] == (score, count, [], True)

    privacy_set(ana, taste_visible_to="everyone")
    assert _rows(api_client)["ana"] == before["ana"]


def test_a_hidden_taste_leaves_item_buds_and_recommendations(
    api_client: Client, bud_world: BudWorld
) -> None:
    rare1 = reverse("api-v1:item-buds", args=["tracks", bud_world.tracks["rare1"].public_id])
    tracks = reverse("api-v1:recommendations")
    me = bud_world.me.username

    def recommended() -> list[str]:
        items = api_client.get(tracks, {"kind": "tracks"}).json()["items"]
        return [row["item"]["name"] for row in items]

    # (ana and I hold as much and as little: tied, ordered by public id.)
    assert (sorted(_names(api_client.get(rare1))), api_client.get(rare1).json()["count"]) == (
        sorted(["ana", me]),
        2,
    )
    assert recommended() == ["deep"]  # ana's

    privacy_set(bud_world.users["ana"], taste_visible_to="nobody")

    # Who holds an item, and what my buds hold, are their taste.
    assert (_names(api_client.get(rare1)), api_client.get(rare1).json()["count"]) == ([me], 1)
    assert recommended() == []


def test_a_friend_whose_taste_is_hidden_has_no_blend_and_no_compatibility_in_my_list(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    _friendship_row(me, ana)
    blend = reverse("api-v1:friend-blend", args=["ana"])
    friends = reverse("api-v1:my-friends")
    shown = api_client.get(friends).json()["items"][0]["compatibility"]
    assert isinstance(shown, int)

    privacy_set(ana, taste_visible_to="friends")  # we are friends: nothing changes
    assert api_client.get(blend).status_code == HTTPStatus.OK
    assert api_client.get(friends).json()["items"][0]["compatibility"] == shown

    privacy_set(ana, taste_visible_to="nobody")
    assert_envelope(api_client.get(blend), HTTPStatus.FORBIDDEN, "taste_hidden")
    row = api_client.get(friends).json()["items"][0]
    assert (row["user"]["username"], row["compatibility"]) == ("ana", None)
    compat = api_client.get(reverse("api-v1:compatibility", args=["ana"]))
    assert_envelope(compat, HTTPStatus.FORBIDDEN, "taste_hidden")  # as the list says


def test_a_friendship_or_block_deleted_in_the_admin_holds_on_the_next_request(
    api_client: Client, bud_world: BudWorld, django_capture_on_commit_callbacks: Any
) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    staff = logged_in(UserFactory.create(is_staff=True, is_superuser=True))
    privacy_set(ana, taste_visible_to="friends")
    befriend(ana, me)
    block(ben, me)
    before = _rows(api_client)  # cached: each deletion below must drop this page
    assert (before["ana"][2:], "ben" in before) == ((["rare1", "rare2"], False), False)
    assert staff.get(reverse("admin:chat_block_add")).status_code == HTTPStatus.FORBIDDEN

    # The pages drop after the admin's transaction commits.
    with django_capture_on_commit_callbacks(execute=True) as dropped:
        deleted = staff.post(
            reverse("admin:relationships_friendship_delete", args=[Friendship.objects.get().pk]),
            {"post": "yes"},
        )
    assert (deleted.status_code, len(dropped)) == (HTTPStatus.FOUND, 1)
    assert _rows(api_client)["ana"][2:] == ([], True)  # friends-only taste: no longer mine

    with django_capture_on_commit_callbacks(execute=True) as dropped:
        lifted = staff.post(
            reverse("admin:chat_block_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [Block.objects.get().pk],
                "post": "yes",
            },
        )
    assert (lifted.status_code, len(dropped)) == (HTTPStatus.FOUND, 1)
    assert _rows(api_client)["ben"][3] is False  # listed again at once


def test_across_a_block_a_person_is_exactly_an_unknown_user(
    api_client: Client, bud_world: BudWorld
) -> None:
    block(bud_world.users["ana"], bud_world.me)

    for name in ("ana", "nobody-at-all"):
        for url in (
            reverse("api-v1:common-items", args=[name]),
            reverse("api-v1:compatibility", args=[name]),
            reverse("api-v1:user-profile", args=[name]),
        ):
            body = assert_envelope(api_client.get(url), HTTPStatus.NOT_FOUND, "user_not_found")
            assert body["message"] == f"No user named {name!r}"
        sent = api_client.post(
            reverse("api-v1:friend-requests"), {"username": name}, content_type="application/json"
        )
        body = assert_envelope(sent, HTTPStatus.NOT_FOUND, "user_not_found")
        assert body["message"] == f"No user named {name!r}"
    assert FriendRequest.objects.count() == 0


def _listing_operations(client: Client) -> set[str]:
    """Every listing of both documents: v1 GET operations answering a list (``items``), legacy
    GET operations answering a page (``page_size``)."""
    found: set[str] = set()
    v1 = client.get("/api/v1/openapi.json").json()
    for path, item in v1["paths"].items():
        answer = item.get("get", {}).get("responses", {}).get("200", {})
        schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
        name = schema.get("$ref", "").rpartition("/")[2]
        if "items" in v1["components"]["schemas"].get(name, {}).get("properties", {}):
            found.add(f"v1 {path}")
    legacy = client.get("/api/legacy/openapi.json").json()
    for path, item in legacy["paths"].items():
        parameters = item.get("get", {}).get("parameters", [])
        if any(parameter["name"] == "page_size" for parameter in parameters):
            found.add(f"legacy {path}")
    return found


# Listings that never show a person: items, channels, messages, my own rows.
SHOW_NO_PEOPLE = {
    "v1 /api/v1/catalogue/{kind}": "catalogue items",
    "v1 /api/v1/me/likes/{kind}": "my own taste",
    "v1 /api/v1/me/top/{kind}": "my own taste",
    "v1 /api/v1/me/played/tracks": "my own taste",
    "v1 /api/v1/me/recommendations": "items (probed below: never drawn from hidden buds)",
    "v1 /api/v1/me/compare-links": "my own links",
    "v1 /api/v1/connections": "my own connections",
    "v1 /api/v1/me/imports": "my own uploads",
    "v1 /api/v1/me/friends/{username}/blend": "tracks of a friend (a block ends friendships)",
    # The chat slice's own block rules: a blocked person's messages never reach the blocker
    # and direct messages are refused both ways (tests/api/chat/); these list my channels,
    # invitations and messages, not people to discover.
    "v1 /api/v1/chat/channels": "my channels",
    "v1 /api/v1/chat/invitations": "my invitations",
    "v1 /api/v1/chat/channels/{channel_id}/messages": "messages (blocked authors dropped)",
    "v1 /api/v1/chat/conversations/{username}/messages": "messages of one conversation",
}


def test_every_listing_route_leaves_out_blocked_and_hidden_people(bud_world: BudWorld) -> None:
    """Every listing of v1 and the legacy API, asked by ``me`` after ana blocked me and ben
    became discoverable by nobody: neither appears in any. A listing added later fails here
    until it is probed or said to show no people."""
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    client = logged_in(me)
    before = {
        kind: [
            row["item"]["name"]
            for row in client.get(reverse("api-v1:recommendations"), {"kind": kind}).json()["items"]
        ]
        for kind in ("tracks", "artists")
    }
    assert before == {"tracks": ["deep"], "artists": ["other"]}
    # A conversation with ana before she blocks me: it leaves my list with the block.
    said = client.post(
        reverse("api-v1:chat-conversation-messages", args=["ana"]),
        {"content": "hi"},
        content_type="application/json",
    )
    assert said.status_code == HTTPStatus.CREATED, said.content
    assert _names(client.get(reverse("api-v1:chat-conversations"))) == ["ana"]
    block(ana, me)
    privacy_set(ben, discoverable="nobody")
    hit = bud_world.tracks["hit"].public_id
    band = bud_world.artists["band"].public_id
    probes: dict[str, list[str]] = {
        "v1 /api/v1/me/buds": [
            reverse("api-v1:my-buds"),
            reverse("api-v1:my-buds") + "?source=likes",
        ],
        "v1 /api/v1/catalogue/{kind}/{item_id}/buds": [
            reverse("api-v1:item-buds", args=["tracks", hit]),
            reverse("api-v1:item-buds", args=["artists", band]),
        ],
        "v1 /api/v1/users/search": [reverse("api-v1:user-search") + f"?q={q}" for q in "abn"],
        "v1 /api/v1/me/buds/{username}/common": [reverse("api-v1:common-items", args=["cat"])],
        "v1 /api/v1/me/friends": [reverse("api-v1:my-friends")],
        "v1 /api/v1/friends/requests": [
            reverse("api-v1:friend-requests") + "?direction=incoming",
            reverse("api-v1:friend-requests") + "?direction=outgoing",
        ],
        "v1 /api/v1/me/feed": [reverse("api-v1:my-feed")],
        "v1 /api/v1/chat/conversations": [reverse("api-v1:chat-conversations")],
    }
    for path in sorted(_listing_operations(client)):
        if not path.startswith("legacy "):
            continue
        template = path.removeprefix("legacy ")
        if template.startswith(("/me/", "/users/{user_id}")):
            continue  # my own taste; another user's taste (a block is a 404 there)
        url = template.replace("{user_id}", str(me.public_id))
        if template.startswith("/bud/common/"):
            url += "?username=cat"
        elif template in {"/bud/track", "/bud/artist", "/bud/album", "/bud/genre"}:
            item = {"/bud/track": hit, "/bud/artist": band}.get(template)
            if item is None:
                continue  # no album or genre of ana's or ben's
            url += f"?{template.rpartition('/')[2]}_id={item}"
        elif template == "/bud/search":
            url += "?q=a"
        probes[path] = [url]
    listings = _listing_operations(client)
    unclassified = (
        listings
        - set(probes)
        - set(SHOW_NO_PEOPLE)
        - {p for p in listings if p.startswith(("legacy /me/", "legacy /users/{user_id}"))}
        - {f"legacy /bud/{kind}" for kind in ("album", "genre")}
    )
    assert unclassified == set()
    assert {
        "legacy /bud/liked/aio",
        "legacy /bud/top/artists",
        "legacy /bud/played/tracks",
        "legacy /bud/track",
        "legacy /bud/common/liked/tracks",
        "legacy /bud/search",
    } <= set(probes)

    hidden = {ana.username, ben.username, ana.public_id.hex, ben.public_id.hex}
    hidden |= {str(ana.public_id), str(ben.public_id)}
    for name, urls in probes.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code == HTTPStatus.OK, (name, url, response.content)
            text = response.content.decode()
            assert not any(f'"{h}"' in text for h in hidden), (name, url, text)
    # The recommendations are not drawn from them: ana's "deep" and ben's "other" would be
    # (cat, the one bud left, has nothing I lack).
    for kind in ("tracks", "artists"):
        recommended = client.get(reverse("api-v1:recommendations"), {"kind": kind})
        assert recommended.json()["items"] == []


# --- friend requests and friends -------------------------------------------------------------


def test_a_friend_request_its_acceptance_and_the_friend_list(bud_world: BudWorld) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    sent = logged_in(me).post(
        reverse("api-v1:friend-requests"), {"username": "ANA"}, content_type="application/json"
    )
    assert sent.status_code == HTTPStatus.CREATED
    body = sent.json()
    assert body["from"] == {
        "id": str(me.public_id),
        "username": me.username,
        "display_name": me.display_name,
    }
    assert body["to"]["username"] == "ana"
    assert body["status"] == "pending"

    again = logged_in(me).post(
        reverse("api-v1:friend-requests"), {"username": "ana"}, content_type="application/json"
    )
    assert_envelope(again, HTTPStatus.CONFLICT, "friend_request_pending")
    incoming = logged_in(ana).get(reverse("api-v1:friend-requests"), {"direction": "incoming"})
    assert [r["id"] for r in incoming.json()["items"]] == [body["id"]]
    assert logged_in(me).get(reverse("api-v1:friend-requests")).json()["items"] == []

    # Only ana may accept it.
    mine = logged_in(me).post(reverse("api-v1:friend-request-accept", args=[body["id"]]))
    assert_envelope(mine, HTTPStatus.NOT_FOUND, "friend_request_not_found")
    accepted = logged_in(ana).post(reverse("api-v1:friend-request-accept", args=[body["id"]]))
    assert accepted.json()["status"] == "accepted"
    twice = logged_in(ana).post(reverse("api-v1:friend-request-accept", args=[body["id"]]))
    assert_envelope(twice, HTTPStatus.CONFLICT, "friend_request_answered")

    friends = logged_in(me).get(reverse("api-v1:my-friends")).json()["items"]
    assert [(f["user"]["username"], f["compatibility"]) for f in friends] == [("ana", 66)]
    theirs = logged_in(ana).get(reverse("api-v1:my-friends")).json()["items"]
    assert [(f["user"]["username"], f["compatibility"]) for f in theirs] == [(me.username, 66)]

    asked_friend = logged_in(ana).post(
        reverse("api-v1:friend-requests"),
        {"username": me.username},
        content_type="application/json",
    )
    assert_envelope(asked_friend, HTTPStatus.CONFLICT, "already_friends")

    removed = logged_in(ana).delete(reverse("api-v1:my-friend", args=[me.username]))
    assert removed.status_code == HTTPStatus.NO_CONTENT
    assert Friendship.objects.count() == 0
    gone = logged_in(ana).delete(reverse("api-v1:my-friend", args=[me.username]))
    assert_envelope(gone, HTTPStatus.NOT_FOUND, "friendship_not_found")


def test_crossing_requests_make_friends(bud_world: BudWorld) -> None:
    me, ben = bud_world.me, bud_world.users["ben"]
    first = logged_in(me).post(
        reverse("api-v1:friend-requests"), {"username": "ben"}, content_type="application/json"
    )
    crossing = logged_in(ben).post(
        reverse("api-v1:friend-requests"),
        {"username": me.username},
        content_type="application/json",
    )

    assert crossing.status_code == HTTPStatus.OK
    assert crossing.json()["id"] == first.json()["id"]
    assert crossing.json()["status"] == "accepted"
    assert FriendRequest.objects.filter(status=RequestStatus.PENDING).count() == 0
    assert Friendship.objects.count() == 1


def test_decline_and_cancel(bud_world: BudWorld) -> None:
    me, cat, dan = bud_world.me, bud_world.users["cat"], bud_world.users["dan"]
    to_cat = (
        logged_in(me)
        .post(
            reverse("api-v1:friend-requests"), {"username": "cat"}, content_type="application/json"
        )
        .json()["id"]
    )
    to_dan = (
        logged_in(me)
        .post(
            reverse("api-v1:friend-requests"), {"username": "dan"}, content_type="application/json"
        )
        .json()["id"]
    )

    declined = logged_in(cat).post(reverse("api-v1:friend-request-decline", args=[to_cat]))
    assert declined.json()["status"] == "declined"
    not_mine = logged_in(dan).delete(reverse("api-v1:friend-request", args=[to_dan]))
    assert_envelope(not_mine, HTTPStatus.NOT_FOUND, "friend_request_not_found")
    cancelled = logged_in(me).delete(reverse("api-v1:friend-request", args=[to_dan]))
    assert cancelled.status_code == HTTPStatus.NO_CONTENT
    assert dict(FriendRequest.objects.values_list("to_user__username", "status")) == {
        "cat": "declined",
        "dan": "cancelled",
    }
    assert Friendship.objects.count() == 0


def test_blocking_ends_the_friendship_and_pending_requests(bud_world: BudWorld) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    Friendship.objects.create(low_id=min(me.pk, ana.pk), high_id=max(me.pk, ana.pk))
    FriendRequest.objects.create(from_user=ben, to_user=me)

    block(me, ana)
    block(me, ben)

    assert Friendship.objects.count() == 0
    assert list(FriendRequest.objects.values_list("status", flat=True)) == ["cancelled"]
    assert Block.objects.count() == 2


def test_friend_requests_are_rate_limited(user: User, settings: Any) -> None:
    settings.RATE_LIMIT_STRICT_PER_MINUTE = 2
    others = UserFactory.create_batch(3)
    client = logged_in(user)
    statuses = [
        client.post(
            reverse("api-v1:friend-requests"),
            {"username": o.username},
            content_type="application/json",
        ).status_code
        for o in others
    ]

    assert statuses == [HTTPStatus.CREATED, HTTPStatus.CREATED, HTTPStatus.TOO_MANY_REQUESTS]
    assert FriendRequest.objects.count() == 2


# --- compatibility ---------------------------------------------------------------------------


def test_compatibility_is_symmetric_and_explained(api_client: Client, bud_world: BudWorld) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    mine = api_client.get(reverse("api-v1:compatibility", args=["ana"])).json()
    theirs = logged_in(ana).get(reverse("api-v1:compatibility", args=[me.username])).json()

    # By hand (musicbud/relationships/README.md): my self-dot 2*(1/3+1/2+1)/3 + 2*1 = 3.2222,
    # ana's 2*(1/2+1+1)/3 = 1.6667, ours 2*(1/2+1)/3 = 1; cosine 1/sqrt(3.2222*1.6667) =
    # 0.4315, shown 100*sqrt(0.4315) = 66; liked tracks alone 1/sqrt(1.2222*1.6667) -> 84.
    assert mine["score"] == theirs["score"] == 66
    assert mine["user"]["username"] == "ana"
    assert mine["breakdown"] == [{"relation": "like", "kind": "track", "score": 84}]
    assert sorted(s["item"]["name"] for s in mine["shared"]) == ["rare1", "rare2"]
    assert mine["together"] == mine["shared"][0]["item"]
    assert [i["name"] for i in mine["discover"]["for_me"]] == ["deep"]
    assert [i["name"] for i in mine["discover"]["for_them"]] == ["band", "hit"]
    assert mine["discover"]["for_me"] == theirs["discover"]["for_them"]


def test_identical_libraries_score_100_and_nothing_shared_0(db: None) -> None:
    first, second, third = UserFactory.create_batch(3)
    tracks = TrackFactory.create_batch(3)
    for track in tracks:
        for person in (first, second):
            taste_edge_set(user=person, kind="track", item=track, relation=Relation.LIKE)
    taste_edge_set(user=third, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)

    same = logged_in(first).get(reverse("api-v1:compatibility", args=[second.username])).json()
    apart = logged_in(first).get(reverse("api-v1:compatibility", args=[third.username])).json()

    assert same["score"] == 100
    assert apart["score"] == 0
    assert apart["shared"] == []
    assert apart["together"] is None


def test_compatibility_with_myself_is_a_422(api_client: Client, user: User) -> None:
    response = api_client.get(reverse("api-v1:compatibility", args=[user.username]))
    assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "same_user")


# --- compare links ---------------------------------------------------------------------------


def test_a_compare_link_overrides_privacy_until_revoked(
    bud_world: BudWorld, caplog: pytest.LogCaptureFixture
) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    privacy_set(ana, discoverable="nobody", taste_visible_to="nobody")
    created = logged_in(ana).post(reverse("api-v1:my-compare-links"))
    assert created.status_code == HTTPStatus.CREATED
    token = created.json()["token"]
    assert len(token) == 32  # 192 bits
    assert created.json()["url"] == f"/api/v1/compare/{token}"
    listed = logged_in(ana).get(reverse("api-v1:my-compare-links")).json()["items"]
    assert [link["token"] for link in listed] == [token]

    with caplog.at_level(logging.INFO):
        seen = logged_in(me).get(reverse("api-v1:compare", args=[token]))
    assert seen.status_code == HTTPStatus.OK
    assert seen.json()["owner"]["username"] == "ana"
    assert seen.json()["compatibility"]["score"] == 66
    # Nowhere in a record: its message or its fields (the access log's path, route, ...).
    compare_lines = [
        r for r in caplog.records if getattr(r, "route", "").startswith("/api/v1/compare/")
    ]
    assert [getattr(r, "path", None) for r in compare_lines] == ["/api/v1/compare/<token>"]
    assert not [r for r in caplog.records if token in str(vars(r))]

    revoked = logged_in(ana).delete(reverse("api-v1:my-compare-link", args=[token]))
    assert revoked.status_code == HTTPStatus.NO_CONTENT
    with caplog.at_level(logging.INFO):
        gone = logged_in(me).get(reverse("api-v1:compare", args=[token]))
    assert_envelope(gone, HTTPStatus.NOT_FOUND, "compare_link_not_found")
    assert not [r for r in caplog.records if token in str(vars(r))]
    assert logged_in(ana).get(reverse("api-v1:my-compare-links")).json()["items"] == []
    # Metrics label routes by template: the token is in no series.
    scrape = Client().get(reverse("metrics")).content.decode()
    assert 'route="/api/v1/compare/<token>"' in scrape
    assert token not in scrape


def test_a_compare_link_across_a_block_or_expired_is_unknown(bud_world: BudWorld) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    token = logged_in(ana).post(reverse("api-v1:my-compare-links")).json()["token"]
    block(ana, me)
    blocked = logged_in(me).get(reverse("api-v1:compare", args=[token]))
    assert_envelope(blocked, HTTPStatus.NOT_FOUND, "compare_link_not_found")

    assert logged_in(ben).get(reverse("api-v1:compare", args=[token])).status_code == HTTPStatus.OK
    CompareLink.objects.update(expires_at="2000-01-01T00:00:00Z")
    expired = logged_in(ben).get(reverse("api-v1:compare", args=[token]))
    assert_envelope(expired, HTTPStatus.NOT_FOUND, "compare_link_not_found")


# --- blend and feed --------------------------------------------------------------------------


def _friendship_row(first: User, second: User) -> None:
    """A friendship row written directly (no request, no invalidation: for tests of reads)."""
    low, high = sorted((first.pk, second.pk))
    Friendship.objects.create(low_id=low, high_id=high)


def test_a_blend_puts_what_we_share_first_then_takes_turns(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    url = reverse("api-v1:friend-blend", args=["ana"])
    assert_envelope(api_client.get(url), HTTPStatus.FORBIDDEN, "not_friends")
    _friendship_row(me, ana)
    # Ranks decide each side's favourites: my hit, ana's deep.
    taste_edge_set(user=me, kind="track", item=bud_world.tracks["hit"], relation="top", rank=1)
    taste_edge_set(user=ana, kind="track", item=bud_world.tracks["deep"], relation="top", rank=1)

    rows = api_client.get(url).json()["items"]
    again = api_client.get(url, {"limit": 3}).json()["items"]

    assert [(r["track"]["name"], r["source"]) for r in rows][2:] == [
        ("hit", "me"),
        ("deep", "them"),
    ]
    assert sorted(r["track"]["name"] for r in rows[:2]) == ["rare1", "rare2"]
    assert {r["source"] for r in rows[:2]} == {"both"}
    assert again == rows[:3]
    whole = api_client.get(url, {"limit": 3}).json()
    assert (whole["count"], whole["next"], whole["previous"]) == (3, None, None)


def test_the_feed_shows_friends_whose_taste_i_may_see_newest_first(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    _friendship_row(me, ana)
    _friendship_row(me, ben)
    privacy_set(ben, taste_visible_to="nobody")
    new = TrackFactory.create(name="new")
    taste_edge_set(user=ana, kind="track", item=new, relation=Relation.LIKE)
    taste_edge_set(user=ana, kind="track", item=new, relation="top", rank=2)
    taste_edge_set(user=ben, kind="track", item=new, relation=Relation.LIKE)

    first = api_client.get(reverse("api-v1:my-feed"), {"limit": 2}).json()
    assert [(e["type"], e["user"]["username"], e["item"]["name"]) for e in first["items"]] == [
        ("top", "ana", "new"),
        ("like", "ana", "new"),
    ]
    assert first["items"][0]["rank"] == 2
    rest = api_client.get(first["next"]).json()
    # The next two of ana's older likes; ben (taste hidden) never appears.
    assert [(e["type"], e["user"]["username"]) for e in rest["items"]] == [("like", "ana")] * 2
    assert "ben" not in str(first) + str(rest)
    bad = api_client.get(reverse("api-v1:my-feed"), {"cursor": "bm9wZQ"})
    assert_envelope(bad, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_cursor")


def test_the_feed_shows_friends_finished_imports_with_what_they_added(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    _friendship_row(me, ana)
    _friendship_row(me, ben)
    privacy_set(ben, taste_visible_to="nobody")
    added = {"played": {"track": {"added": 2300, "updated": 4}}, "like": {"track": {"added": 0}}}
    for user, status in ((ana, ImportStatus.SUCCEEDED), (ben, ImportStatus.SUCCEEDED)):
        ImportJob.objects.create(
            user=user,
            format=ImportFormat.SPOTIFY_EXTENDED,
            status=status,
            changes=added,
            finished_at=timezone.now(),
        )
    # A failed upload and one still running are no news.
    ImportJob.objects.create(
        user=ana,
        format=ImportFormat.SPOTIFY_EXTENDED,
        status=ImportStatus.FAILED,
        changes=added,
        finished_at=timezone.now(),
    )

    first = api_client.get(reverse("api-v1:my-feed"), {"limit": 1}).json()
    assert first["items"] == [
        {
            "type": "import",
            "at": first["items"][0]["at"],
            "user": {"id": str(ana.public_id), "username": "ana", "display_name": ana.display_name},
            "item": None,
            "rank": None,
            "added": {"played": 2300},
        }
    ]
    assert first["count"] is None
    assert first["previous"] is None
    second = api_client.get(first["next"]).json()
    assert [e["type"] for e in second["items"]] == ["like"]
    assert second["previous"].startswith(reverse("api-v1:my-feed") + "?limit=1&cursor=")
    # Back a page is the first page again, links included (none before it).
    assert api_client.get(second["previous"]).json() == first
    # Items are cards, as on every list.
    assert set(second["items"][0]["item"]) == {
        "id",
        "kind",
        "name",
        "external_ids",
        "images",
        "artists",
        "album",
    }


def test_the_feed_reads_forward_to_page_3_and_back_to_page_1(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana, ben = bud_world.me, bud_world.users["ana"], bud_world.users["ben"]
    _friendship_row(me, ana)
    _friendship_row(me, ben)
    for _ in range(5):
        taste_edge_set(user=ana, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)
    # Everything at one instant but one upload: the keyset's source and id decide.
    now = timezone.now()
    TasteEdge.objects.filter(user__in=[ana, ben]).update(created_at=now)
    uploads = [
        ImportJob.objects.create(
            user=user,
            format=ImportFormat.SPOTIFY_EXTENDED,
            status=ImportStatus.SUCCEEDED,
            changes={},
            finished_at=at,
        )
        for user, at in ((ana, now), (ben, now - timedelta(minutes=1)))
    ]
    edges = TasteEdge.objects.filter(user__in=[ana, ben]).order_by("-id")
    # Taste events before syncs before imports at one instant, newest (highest id) first.
    expected = [(e.relation, e.user.username) for e in edges] + [
        ("import", upload.user.username) for upload in uploads
    ]
    assert len(expected) == 13
    url = reverse("api-v1:my-feed")

    def get(link: str) -> dict[str, Any]:
        body: dict[str, Any] = api_client.get(link).json()
        return body

    def events(body: dict[str, Any]) -> list[tuple[str, str]]:
        return [(e["type"], e["user"]["username"]) for e in body["items"]]

    first = get(f"{url}?limit=3")
    second = get(first["next"])
    third = get(second["next"])
    back_second = get(third["previous"])
    back_first = get(back_second["previous"])

    assert [events(page) for page in (first, second, third)] == [
        expected[0:3],
        expected[3:6],
        expected[6:9],
    ]
    assert first["previous"] is None
    # Read back, each page is the one read forward, links included.
    assert (back_second, back_first) == (second, first)
    assert back_first["previous"] is None
    assert third["previous"].startswith(f"{url}?limit=3&cursor=")
    # On to the last page and back from it.
    fourth = get(third["next"])
    last = get(fourth["next"])
    assert events(fourth) + events(last) == expected[9:]
    assert last["next"] is None
    assert get(last["previous"]) == fourth


def test_a_profile_shows_taste_counts_only_to_whom_the_taste_is_visible(
    api_client: Client, bud_world: BudWorld
) -> None:
    me, ana = bud_world.me, bud_world.users["ana"]
    url = reverse("api-v1:user-profile", args=["ana"])
    shown = api_client.get(url).json()["taste_counts"]
    assert shown is not None
    assert sum(shown["likes"].values()) > 0
    privacy_set(ana, taste_visible_to="friends")
    assert api_client.get(url).json()["taste_counts"] is None
    _friendship_row(me, ana)
    assert api_client.get(url).json()["taste_counts"] == shown
    privacy_set(ana, taste_visible_to="nobody")
    assert api_client.get(url).json()["taste_counts"] is None
    # My own profile always has mine.
    own = logged_in(ana).get(reverse("api-v1:user-profile", args=["ana"])).json()
    assert own["taste_counts"] == shown
