"""The legacy app's bud requests: ``POST /v1/bud/search/`` with ``{userId}`` asks someone to be
friends, with ``{userId, action}`` answers their request or removes the friend."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from musicbud.chat.models import Block
from musicbud.relationships.models import FriendRequest, Friendship
from musicbud.services.tokens import token_pair_issue
from tests.api.legacy.conftest import LegacyWorld

pytestmark = pytest.mark.django_db


def _as(legacy: LegacyWorld, name: str) -> LegacyWorld:
    user = legacy.world.users[name]
    return LegacyWorld(
        world=legacy.world, tokens=async_to_sync(token_pair_issue)(user=user), client=Client()
    )


def test_a_bud_request_and_its_acceptance_in_the_legacy_envelope(legacy: LegacyWorld) -> None:
    me, ana = legacy.world.me, legacy.world.users["ana"]

    sent = legacy.call("POST", "/v1/bud/search/", {"userId": ana.public_id.hex})

    assert sent.status_code == HTTPStatus.CREATED
    body = sent.json()
    assert body["message"] == "Bud request sent."
    assert body["code"] == HTTPStatus.CREATED
    assert body["successful"] is True
    assert body["data"]["sender"] == {
        "uid": me.public_id.hex,
        "username": me.username,
        "display_name": me.display_name,
    }
    assert body["data"]["recipient"]["uid"] == ana.public_id.hex
    assert body["data"]["status"] == "pending"

    again = legacy.call("POST", "/bud/search", {"userId": ana.public_id.hex})
    assert again.status_code == HTTPStatus.CONFLICT
    assert again.json()["success"] is False

    answered = _as(legacy, "ana").call(
        "POST", "/v1/bud/search/", {"userId": me.public_id.hex, "action": "accept"}
    )
    assert answered.status_code == HTTPStatus.OK
    assert answered.json()["message"] == "Bud request accepted."
    assert answered.json()["data"]["status"] == "accepted"
    assert Friendship.objects.count() == 1

    removed = legacy.call(
        "POST", "/v1/bud/search/", {"userId": ana.public_id.hex, "action": "remove"}
    )
    assert removed.status_code == HTTPStatus.OK
    assert removed.json() == {
        "message": "Bud removed.",
        "code": 200,
        "successful": True,
        "data": None,
    }
    assert Friendship.objects.count() == 0


def test_reject_and_the_404_of_a_block(legacy: LegacyWorld) -> None:
    me, ben, cat = legacy.world.me, legacy.world.users["ben"], legacy.world.users["cat"]
    legacy.call("POST", "/v1/bud/search/", {"userId": ben.public_id.hex})

    rejected = _as(legacy, "ben").call(
        "POST", "/bud/search/", {"userId": me.public_id.hex, "action": "reject"}
    )
    assert rejected.json()["data"]["status"] == "declined"
    nothing = _as(legacy, "ben").call(
        "POST", "/bud/search/", {"userId": me.public_id.hex, "action": "accept"}
    )
    assert nothing.status_code == HTTPStatus.NOT_FOUND

    Block.objects.create(blocker=cat, blocked=me)
    blocked = legacy.call("POST", "/v1/bud/search/", {"userId": cat.public_id.hex})
    unknown = legacy.call("POST", "/v1/bud/search/", {"userId": "0" * 32})
    assert blocked.status_code == unknown.status_code == HTTPStatus.NOT_FOUND
    assert blocked.json()["message"] == f"No user with id {cat.public_id}"
    assert unknown.json()["message"] == "No user with id 00000000-0000-0000-0000-000000000000"
    assert list(FriendRequest.objects.values_list("status", flat=True)) == ["declined"]


def test_the_search_still_answers_without_a_user_id(legacy: LegacyWorld) -> None:
    response = legacy.call("POST", "/v1/bud/search/", {"query": "an"})

    assert response.status_code == HTTPStatus.OK
    assert [u["username"] for u in response.json()["data"]] == ["ana", "dan"]
