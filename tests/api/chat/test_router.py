"""Chat over REST: channels, membership, moderation, messages, direct messages, blocks,
read markers, tickets and every bad input (the socket side is in test_consumer.py)."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.chat.models import Block, Channel, Membership, Message
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.usefixtures("chat_layer_in_memory")

JSON = "application/json"


def url(name: str, *args: Any) -> str:
    return reverse(f"api-v1:{name}", args=args)


def post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, body or {}, content_type=JSON)


def test_create_channel_makes_the_creator_admin(people, client_as, make_channel) -> None:
    body = make_channel(people["ana"], "Jazz")

    assert body == {
        "id": body["id"],
        "name": "Jazz",
        "description": "All about Jazz",
        "visibility": "public",
        "created_at": body["created_at"],
        "creator": "ana",
        "member_count": 1,
        "role": "admin",
        "state": "active",
        "unread": 0,
    }
    membership = Membership.objects.get(channel__public_id=body["id"])
    # Public ids only: the row ids would tell how many channels there are.
    assert body["id"] == str(membership.channel.public_id)
    assert body["id"] != str(membership.channel_id)
    assert (membership.user, membership.role, membership.state) == (
        people["ana"],
        "admin",
        "active",
    )


def test_a_taken_name_in_any_case_is_a_409(people, client_as, make_channel) -> None:
    make_channel(people["ana"], "Jazz")

    response = post(client_as(people["ben"]), url("chat-channels"), {"name": " jAZZ "})

    assert_envelope(response, HTTPStatus.CONFLICT, "channel_name_taken")
    assert Membership.objects.filter(user=people["ben"]).count() == 0


def test_list_searches_names_and_mine_shows_unread(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    make_channel(people["ana"], "techno")
    make_channel(people["ben"], "free jazz")
    post(client_as(people["ana"]), url("chat-channel-messages", jazz["id"]), {"content": "hi"})
    post(client_as(people["ben"]), url("chat-channel-join", jazz["id"]))
    post(client_as(people["ana"]), url("chat-channel-messages", jazz["id"]), {"content": "again"})

    found = client_as(people["cat"]).get(url("chat-channels"), {"q": "JAZZ"}).json()
    mine = client_as(people["ben"]).get(url("chat-channels"), {"mine": "true"}).json()

    assert [c["name"] for c in found["items"]] == ["free jazz", "jazz"]
    assert found["next"] is None
    assert [(c["name"], c["role"], c["unread"]) for c in mine["items"]] == [
        ("free jazz", "admin", 0),
        ("jazz", "member", 2),
    ]


def test_only_an_admin_changes_or_deletes_a_channel(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    post(client_as(people["ben"]), url("chat-channel-join", jazz["id"]))
    path = url("chat-channel", jazz["id"])

    refused = client_as(people["ben"]).patch(path, {"name": "bebop"}, content_type=JSON)
    changed = client_as(people["ana"]).patch(
        path, {"description": "swing", "visibility": "private"}, content_type=JSON
    )
    not_deleted = client_as(people["ben"]).delete(path)
    deleted = client_as(people["ana"]).delete(path)

    assert_envelope(refused, HTTPStatus.FORBIDDEN, "channel_role_required")
    assert (changed.status_code, changed.json()["name"], changed.json()["description"]) == (
        HTTPStatus.OK,
        "jazz",
        "swing",
    )
    assert changed.json()["visibility"] == "private"
    assert_envelope(not_deleted, HTTPStatus.FORBIDDEN, "channel_role_required")
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    assert_envelope(client_as(people["ana"]).get(path), HTTPStatus.NOT_FOUND, "channel_not_found")


def test_join_public_at_once_private_after_approval(people, client_as, make_channel) -> None:
    public = make_channel(people["ana"], "open")
    private = make_channel(people["ana"], "closed", "private")
    ben = client_as(people["ben"])

    joined = post(ben, url("chat-channel-join", public["id"])).json()
    pending = post(ben, url("chat-channel-join", private["id"])).json()
    history_before = ben.get(url("chat-channel-messages", private["id"]))
    refused = post(client_as(people["cat"]), url("chat-member-approve", private["id"], "ben"))
    approved = post(client_as(people["ana"]), url("chat-member-approve", private["id"], "ben"))
    history_after = ben.get(url("chat-channel-messages", private["id"]))

    assert (joined["role"], joined["state"]) == ("member", "active")
    assert pending["state"] == "pending"
    assert_envelope(history_before, HTTPStatus.FORBIDDEN, "not_a_member")
    assert_envelope(refused, HTTPStatus.FORBIDDEN, "not_a_member")
    assert approved.json()["state"] == "active"
    assert history_after.json() == {"items": [], "count": None, "next": None, "previous": None}


def test_invitations_are_listed_accepted_and_declined(people, client_as, make_channel) -> None:
    private = make_channel(people["ana"], "closed", "private")
    ana = client_as(people["ana"])

    invited = post(ana, url("chat-channel-members", private["id"]), {"username": "BEN"})
    post(ana, url("chat-channel-members", private["id"]), {"username": "cat"})
    again = post(ana, url("chat-channel-members", private["id"]), {"username": "ben"})
    listed = client_as(people["ben"]).get(url("chat-invitations")).json()
    not_mine = post(client_as(people["cat"]), url("chat-invitation-accept", invited.json()["id"]))
    accepted = post(client_as(people["ben"]), url("chat-invitation-accept", invited.json()["id"]))
    cat_invitation = Membership.objects.get(user=people["cat"]).public_id
    declined = post(client_as(people["cat"]), url("chat-invitation-decline", cat_invitation))

    assert invited.status_code == HTTPStatus.CREATED
    assert (invited.json()["state"], invited.json()["invited_by"]) == ("invited", "ana")
    assert_envelope(again, HTTPStatus.CONFLICT, "already_member")
    assert [(i["channel_name"], i["user"]["username"]) for i in listed["items"]] == [
        ("closed", "ben")
    ]
    assert_envelope(not_mine, HTTPStatus.NOT_FOUND, "invitation_not_found")
    assert accepted.json()["state"] == "active"
    assert declined.status_code == HTTPStatus.NO_CONTENT
    assert not Membership.objects.filter(user=people["cat"]).exists()


def test_moderation_roles(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    for name in ("ben", "cat", "dan"):
        post(client_as(people[name]), url("chat-channel-join", jazz["id"]))
    ana, ben = client_as(people["ana"]), client_as(people["ben"])

    def act(client: Client, username: str, action: str) -> Any:
        return post(client, url("chat-member-moderate", jazz["id"], username, action))

    assert_envelope(act(ben, "cat", "kick"), HTTPStatus.FORBIDDEN, "channel_role_required")
    promoted = act(ana, "ben", "promote")
    assert (promoted.status_code, promoted.json()["role"]) == (HTTPStatus.OK, "moderator")
    assert_envelope(act(ben, "cat", "ban"), HTTPStatus.FORBIDDEN, "channel_role_required")
    assert_envelope(act(ben, "ana", "kick"), HTTPStatus.FORBIDDEN, "channel_role_required")
    assert act(ben, "cat", "kick").status_code == HTTPStatus.NO_CONTENT
    assert act(ana, "dan", "ban").status_code == HTTPStatus.NO_CONTENT
    assert act(ana, "ben", "demote").json()["role"] == "member"
    assert_envelope(act(ana, "ben", "demote"), HTTPStatus.CONFLICT, "cannot_demote")
    assert_envelope(act(ana, "ana", "kick"), HTTPStatus.UNPROCESSABLE_ENTITY, "same_user")
    assert_envelope(act(ana, "ben", "mute"), HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    banned_join = post(client_as(people["dan"]), url("chat-channel-join", jazz["id"]))
    rejoined = post(client_as(people["cat"]), url("chat-channel-join", jazz["id"]))

    assert_envelope(banned_join, HTTPStatus.FORBIDDEN, "banned")
    assert rejoined.json()["state"] == "active"
    assert dict(
        Membership.objects.filter(channel__public_id=jazz["id"]).values_list(
            "user__username", "state"
        )
    ) == {
        "ana": "active",
        "ben": "active",
        "cat": "active",
        "dan": "banned",
    }


def test_the_last_admin_cannot_leave_others_behind(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    post(client_as(people["ben"]), url("chat-channel-join", jazz["id"]))

    refused = post(client_as(people["ana"]), url("chat-channel-leave", jazz["id"]))
    left = post(client_as(people["ben"]), url("chat-channel-leave", jazz["id"]))
    again = post(client_as(people["ben"]), url("chat-channel-leave", jazz["id"]))

    assert_envelope(refused, HTTPStatus.CONFLICT, "last_admin")
    assert left.status_code == HTTPStatus.NO_CONTENT
    assert_envelope(again, HTTPStatus.FORBIDDEN, "not_a_member")


def test_messages_page_newest_first_and_idempotent_sends(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    ana = client_as(people["ana"])
    path = url("chat-channel-messages", jazz["id"])
    sent = [post(ana, path, {"content": f"  m{i}  "}).json()["id"] for i in range(5)]

    first = post(ana, path, {"content": "once", "client_id": "c-1"})
    replay = post(ana, path, {"content": "once", "client_id": "c-1"})
    page1 = ana.get(path, {"limit": 3}).json()
    page2 = ana.get(page1["next"]).json()

    assert first.status_code == HTTPStatus.CREATED
    assert replay.status_code == HTTPStatus.OK
    assert replay.json() == first.json()
    assert first.json()["author"] == {"username": "ana", "display_name": "Ana"}
    assert Message.objects.filter(client_id="c-1").count() == 1
    assert [m["content"] for m in page1["items"]] == ["once", "m4", "m3"]
    assert [m["id"] for m in page2["items"]] == [sent[2], sent[1], sent[0]]
    assert page2["next"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "   "}, "body.content"),
        ({"content": "x" * 4001}, "body.content"),
        ({"content": "ok", "client_id": ""}, "body.client_id"),
        ({"content": 5}, "body.content"),
        ({"text": "hi"}, "body.content"),
    ],
)
def test_bad_messages_are_422_and_store_nothing(people, client_as, make_channel, body, field):
    jazz = make_channel(people["ana"], "jazz")

    response = post(client_as(people["ana"]), url("chat-channel-messages", jazz["id"]), body)

    envelope = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert field in {detail["field"] for detail in envelope["details"]}
    assert Message.objects.count() == 0


def test_content_is_trimmed_within_4000_characters(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")

    response = post(
        client_as(people["ana"]),
        url("chat-channel-messages", jazz["id"]),
        {"content": "  " + "y" * 3997 + "\n"},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["content"] == "y" * 3997


def test_non_members_cannot_post_and_a_bad_cursor_is_422(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    path = url("chat-channel-messages", jazz["id"])

    refused = post(client_as(people["ben"]), path, {"content": "hi"})
    bad_cursor = client_as(people["ana"]).get(path, {"cursor": "bm90LWpzb24"})
    missing = client_as(people["ana"]).get(url("chat-channel-messages", uuid.uuid4()))
    by_row_id = client_as(people["ana"]).get(f"/api/v1/chat/channels/{Channel.objects.get().pk}")

    assert_envelope(refused, HTTPStatus.FORBIDDEN, "not_a_member")
    assert_envelope(bad_cursor, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_cursor")
    assert_envelope(missing, HTTPStatus.NOT_FOUND, "channel_not_found")
    assert_envelope(by_row_id, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert Message.objects.count() == 0


def test_deleting_messages(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    for name in ("ben", "cat"):
        post(client_as(people[name]), url("chat-channel-join", jazz["id"]))
    path = url("chat-channel-messages", jazz["id"])
    by_ben = post(client_as(people["ben"]), path, {"content": "ben's"}).json()["id"]
    by_cat = post(client_as(people["cat"]), path, {"content": "cat's"}).json()["id"]

    refused = client_as(people["ben"]).delete(url("chat-message", by_cat))
    own = client_as(people["ben"]).delete(url("chat-message", by_ben))
    by_admin = client_as(people["ana"]).delete(url("chat-message", by_cat))
    again = client_as(people["ana"]).delete(url("chat-message", by_cat))

    assert_envelope(refused, HTTPStatus.FORBIDDEN, "permission_denied")
    assert (own.status_code, by_admin.status_code) == (HTTPStatus.NO_CONTENT, HTTPStatus.NO_CONTENT)
    assert_envelope(again, HTTPStatus.NOT_FOUND, "message_not_found")
    assert client_as(people["cat"]).get(path).json()["items"] == []
    assert Message.objects.get(public_id=by_cat).deleted_by == people["ana"]


def test_direct_messages_list_and_unread(people, client_as) -> None:
    ana, ben = client_as(people["ana"]), client_as(people["ben"])
    first = post(ana, url("chat-conversation-messages", "ben"), {"content": "hey"}).json()
    post(ana, url("chat-conversation-messages", "ben"), {"content": "you there?"})
    post(client_as(people["cat"]), url("chat-conversation-messages", "ben"), {"content": "yo"})

    listed = ben.get(url("chat-conversations")).json()
    read = post(ben, url("chat-conversation-read", "ana"), {"message_id": first["id"]})
    history = ben.get(url("chat-conversation-messages", "ana")).json()
    after = ben.get(url("chat-conversations")).json()
    ana_side = ana.get(url("chat-conversations")).json()

    assert [
        (c["user"]["username"], c["last_message"]["content"], c["unread"]) for c in listed["items"]
    ] == [
        ("cat", "yo", 1),
        ("ana", "you there?", 2),
    ]
    assert read.json() == {"unread": 1}
    assert [m["content"] for m in history["items"]] == ["you there?", "hey"]
    assert [c["unread"] for c in after["items"]] == [1, 1]
    assert [(c["user"]["username"], c["unread"]) for c in ana_side["items"]] == [("ben", 0)]


def test_direct_message_bad_input(people, client_as) -> None:
    ana = client_as(people["ana"])

    to_self = post(ana, url("chat-conversation-messages", "ana"), {"content": "me"})
    to_nobody = post(ana, url("chat-conversation-messages", "nobody"), {"content": "hi"})
    no_conversation = post(
        ana, url("chat-conversation-read", "ben"), {"message_id": str(uuid.uuid4())}
    )

    assert_envelope(to_self, HTTPStatus.UNPROCESSABLE_ENTITY, "same_user")
    assert_envelope(to_nobody, HTTPStatus.NOT_FOUND, "user_not_found")
    assert_envelope(no_conversation, HTTPStatus.NOT_FOUND, "conversation_not_found")


def test_blocks_refuse_direct_messages_both_ways(people, client_as) -> None:
    ana, ben = client_as(people["ana"]), client_as(people["ben"])

    blocked = post(ana, url("chat-blocks"), {"username": "ben"})
    again = post(ana, url("chat-blocks"), {"username": "ben"})
    from_ben = post(ben, url("chat-conversation-messages", "ana"), {"content": "hi"})
    from_ana = post(ana, url("chat-conversation-messages", "ben"), {"content": "hi"})
    unblocked = ana.delete(url("chat-block", "ben"))
    after = post(ben, url("chat-conversation-messages", "ana"), {"content": "hi"})

    assert (blocked.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    # To ben, ana is now an unknown user (word for word); ana is told she blocked him.
    assert_envelope(from_ben, HTTPStatus.NOT_FOUND, "user_not_found", "No user named 'ana'")
    unknown = post(ben, url("chat-conversation-messages", "nobody"), {"content": "hi"})
    assert_envelope(unknown, HTTPStatus.NOT_FOUND, "user_not_found", "No user named 'nobody'")
    assert from_ben.json().keys() == unknown.json().keys()
    assert_envelope(from_ana, HTTPStatus.FORBIDDEN, "blocked", "You blocked ben")
    assert unblocked.status_code == HTTPStatus.NO_CONTENT
    assert after.status_code == HTTPStatus.CREATED
    assert Message.objects.count() == 1
    assert not Block.objects.exists()


def test_blocked_authors_vanish_from_my_channel_history(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    post(client_as(people["ben"]), url("chat-channel-join", jazz["id"]))
    path = url("chat-channel-messages", jazz["id"])
    post(client_as(people["ben"]), path, {"content": "from ben"})
    post(client_as(people["ana"]), path, {"content": "from ana"})
    post(client_as(people["ana"]), url("chat-blocks"), {"username": "ben"})

    assert [m["content"] for m in client_as(people["ana"]).get(path).json()["items"]] == [
        "from ana"
    ]


def test_channel_read_marker_moves_forward_only(people, client_as, make_channel) -> None:
    jazz = make_channel(people["ana"], "jazz")
    post(client_as(people["ben"]), url("chat-channel-join", jazz["id"]))
    path = url("chat-channel-messages", jazz["id"])
    ids = [post(client_as(people["ana"]), path, {"content": str(i)}).json()["id"] for i in range(3)]
    ben = client_as(people["ben"])

    forward = post(ben, url("chat-channel-read", jazz["id"]), {"message_id": ids[1]})
    back = post(ben, url("chat-channel-read", jazz["id"]), {"message_id": ids[0]})
    elsewhere = post(ben, url("chat-channel-read", jazz["id"]), {"message_id": str(uuid.uuid4())})

    assert forward.json() == {"unread": 1}
    assert back.json() == {"unread": 1}
    assert_envelope(elsewhere, HTTPStatus.NOT_FOUND, "message_not_found")
    marker = Membership.objects.get(user=people["ben"]).last_read_message
    assert marker is not None
    assert str(marker.public_id) == ids[1]


def test_ticket_is_issued_for_a_signed_in_user_only(people, client_as) -> None:
    response = post(client_as(people["ana"]), url("chat-ticket"))
    anonymous = Client().post(url("chat-ticket"))

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["expires_in"] == 30
    assert len(response.json()["ticket"]) == 43
    assert_envelope(anonymous, HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_routes_need_authentication(db: None) -> None:
    response = Client().get(url("chat-channels"))

    assert_envelope(response, HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_a_ban_is_lifted_by_an_admins_unban_only(people, client_as, make_channel) -> None:
    private = make_channel(people["ana"], "closed", visibility="private")
    ana, ben = client_as(people["ana"]), client_as(people["ben"])
    post(ana, url("chat-channel-members", private["id"]), {"username": "ben"})
    post(ben, url("chat-invitation-accept", Membership.objects.get(user=people["ben"]).public_id))
    post(ana, url("chat-member-moderate", private["id"], "ben", "promote"))
    post(ana, url("chat-member-moderate", private["id"], "cat", "ban"))

    def act(client: Client, action: str) -> Any:
        return post(client, url("chat-member-moderate", private["id"], "cat", action))

    kicked_by_moderator = act(ben, "kick")
    kicked_by_admin = act(ana, "kick")
    invited = post(ben, url("chat-channel-members", private["id"]), {"username": "cat"})
    joined = post(client_as(people["cat"]), url("chat-channel-join", private["id"]))
    unbanned_by_moderator = act(ben, "unban")
    still = Membership.objects.get(user=people["cat"]).state

    assert_envelope(kicked_by_moderator, HTTPStatus.CONFLICT, "member_banned")
    assert_envelope(kicked_by_admin, HTTPStatus.CONFLICT, "member_banned")
    assert_envelope(invited, HTTPStatus.CONFLICT, "member_banned")
    assert_envelope(joined, HTTPStatus.FORBIDDEN, "banned")
    assert_envelope(unbanned_by_moderator, HTTPStatus.FORBIDDEN, "channel_role_required")
    assert still == "banned"

    unbanned = act(ana, "unban")
    again = act(ana, "unban")
    invited_now = post(ben, url("chat-channel-members", private["id"]), {"username": "cat"})

    assert unbanned.status_code == HTTPStatus.NO_CONTENT
    assert_envelope(again, HTTPStatus.CONFLICT, "not_banned")
    assert (invited_now.status_code, invited_now.json()["state"]) == (HTTPStatus.CREATED, "invited")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("jazz\u202egnp", "bidi override"),
        ("ja\u200bzz", "zero-width space"),
        ("jazz\u2066", "bidi isolate"),
        ("\u3164jazz", "Hangul filler"),
        ("j\u0430zz", "Cyrillic a in a Latin word"),
        ("jazz\x1b[2J", "terminal escape"),
    ],
)
def test_a_channel_name_that_could_pass_for_another_is_422(
    people, client_as, make_channel, name, kind
) -> None:
    make_channel(people["ana"], "jazz")

    response = post(client_as(people["ben"]), url("chat-channels"), {"name": name})

    envelope = assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")
    assert [(d["field"], d["type"]) for d in envelope["details"]] == [
        ("body.name", "display_text")
    ], kind
    assert Channel.objects.count() == 1


def test_fullwidth_and_compatibility_spellings_are_the_same_name(
    people, client_as, make_channel
) -> None:
    make_channel(people["ana"], "jazz")
    ben = client_as(people["ben"])

    fullwidth = post(ben, url("chat-channels"), {"name": "\uff2a\uff41\uff5a\uff5a"})
    mixed_words = post(ben, url("chat-channels"), {"name": "jazz и блюз"})

    assert_envelope(fullwidth, HTTPStatus.CONFLICT, "channel_name_taken")
    assert mixed_words.status_code == HTTPStatus.CREATED  # scripts may differ between words
    assert sorted(Channel.objects.values_list("name", flat=True)) == ["jazz", "jazz и блюз"]


@pytest.mark.parametrize(
    ("taken", "imitation"),
    [
        ("sax", "\u0455\u0430\u0445"),  # wholly Cyrillic: dze, a, ha
        ("Cocoa", "\u0421\u043e\u0441\u043e\u0430"),  # wholly Cyrillic: Es, o, es, o, a
        ("peep", "\u0440\u0435\u0435\u0440"),  # wholly Cyrillic: er, ie, ie, er
    ],
)
def test_a_name_wholly_in_look_alike_letters_is_the_name_it_imitates(
    people, client_as, make_channel, taken, imitation
) -> None:
    make_channel(people["ana"], taken)
    ben = client_as(people["ben"])
    mine = post(ben, url("chat-channels"), {"name": "mine"}).json()

    created = post(ben, url("chat-channels"), {"name": imitation})
    renamed = ben.patch(url("chat-channel", mine["id"]), {"name": imitation}, content_type=JSON)

    assert_envelope(created, HTTPStatus.CONFLICT, "channel_name_taken")
    assert_envelope(renamed, HTTPStatus.CONFLICT, "channel_name_taken")
    assert sorted(Channel.objects.values_list("name", flat=True)) == sorted([taken, "mine"])
