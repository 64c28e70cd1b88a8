"""The moderator tools in the Django admin: ban members and remove messages in bulk."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.chat.models import Channel, Membership, MembershipState, Message, Role
from tests.factories import UserFactory

# The admin runs the services through async_to_sync (an event loop per request).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_layer_in_memory")]


def test_the_ban_action_bans_the_selected_members_only(admin_client: Client) -> None:
    ana, ben, cat = (UserFactory.create(username=name) for name in ("ana", "ben", "cat"))
    channel = Channel.objects.create(name="jazz", creator=ana)
    memberships = {
        user.username: Membership.objects.create(
            channel=channel, user=user, role=role, state=MembershipState.ACTIVE
        )
        for user, role in ((ana, Role.ADMIN), (ben, Role.MODERATOR), (cat, Role.MEMBER))
    }

    response = admin_client.post(
        reverse("admin:chat_membership_changelist"),
        {"action": "ban_members", "_selected_action": [memberships["ben"].pk]},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert dict(Membership.objects.values_list("user__username", "state")) == {
        "ana": "active",
        "ben": "banned",
        "cat": "active",
    }
    assert Membership.objects.get(user=ben).role == Role.MEMBER


def test_the_remove_action_marks_messages_deleted_by_the_moderator(admin_client: Client) -> None:
    ana = UserFactory.create(username="ana")
    channel = Channel.objects.create(name="jazz", creator=ana)
    spam, kept = (Message.objects.create(channel=channel, author=ana, content=c) for c in "ab")

    response = admin_client.post(
        reverse("admin:chat_message_changelist"),
        {"action": "remove_messages", "_selected_action": [spam.pk]},
    )
    listed = admin_client.get(reverse("admin:chat_message_changelist"), {"deleted": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    spam.refresh_from_db()
    kept.refresh_from_db()
    assert (spam.deleted_by.username, spam.content) == ("admin", "a")  # type: ignore[union-attr]
    assert kept.deleted_at is None
    assert listed.status_code == HTTPStatus.OK
    assert list(listed.context["cl"].queryset) == [spam]


def test_messages_cannot_be_added_or_rewritten_in_the_admin(admin_client: Client) -> None:
    ana, ben = UserFactory.create(username="ana"), UserFactory.create(username="ben")
    channel = Channel.objects.create(name="jazz", creator=ana)
    message = Message.objects.create(channel=channel, author=ana, content="hello")

    adding = admin_client.get(reverse("admin:chat_message_add"))
    posted = admin_client.post(
        reverse("admin:chat_message_add"),
        {"channel": channel.pk, "author": ben.pk, "content": "said by nobody"},
    )
    rewritten = admin_client.post(
        reverse("admin:chat_message_change", args=[message.pk]),
        {"channel": channel.pk, "author": ben.pk, "content": "changed"},
    )
    viewed = admin_client.get(reverse("admin:chat_message_change", args=[message.pk]))

    assert (adding.status_code, posted.status_code) == (HTTPStatus.FORBIDDEN, HTTPStatus.FORBIDDEN)
    assert rewritten.status_code == HTTPStatus.FORBIDDEN
    assert list(Message.objects.values_list("author__username", "content")) == [("ana", "hello")]
    # Looked at, not edited: no author field, no save button.
    assert viewed.status_code == HTTPStatus.OK
    assert b'name="author"' not in viewed.content
    assert b'name="_save"' not in viewed.content


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("\u0455\u0430\u0445", "A channel named '\u0455\u0430\u0445' exists"),  # Cyrillic "sax"
        ("SAX", "A channel named 'SAX' exists"),
        ("s\u0430x", "The channel name mixes scripts in 's\u0430x' (CYRILLIC, LATIN)"),
        ("sax\u202e", "The channel name must not contain control, bidi, zero-width"),
    ],
)
def test_the_admin_holds_a_channel_name_to_the_api_rules(
    admin_client: Client, name: str, error: str
) -> None:
    Channel.objects.create(name="sax")

    response = admin_client.post(
        reverse("admin:chat_channel_add"),
        {
            "name": name,
            "description": "",
            "visibility": "public",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert [
        message[: len(error)] for message in response.context["adminform"].form.errors["name"]
    ] == [error]
    assert list(Channel.objects.values_list("name", flat=True)) == ["sax"]
