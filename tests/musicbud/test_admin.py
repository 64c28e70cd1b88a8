"""The admin a moderator uses: every model's list, search and add pages, and user creation."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from graph.models import ProjectionOutbox, UserLibrary
from musicbud.connections.models import ProviderConnection, SyncJob
from musicbud.connections.token_cipher import token_encrypt
from musicbud.models import Relation, TasteEdge, User
from musicbud.services.taste import taste_edge_set
from tests.factories import DEFAULT_PASSWORD, TrackFactory, UserFactory
from tooling.demo import demo_seed

pytestmark = pytest.mark.django_db

MODELS = ("user", "genre", "artist", "album", "track", "tasteedge")


@pytest.fixture
def moderator_client(client: Client) -> Client:
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_list_search_and_add_pages_render(moderator_client: Client, model: str) -> None:
    demo_seed(users=5, tracks=30, edges=60, seed=1)

    listing = moderator_client.get(reverse(f"admin:musicbud_{model}_changelist"))
    searched = moderator_client.get(reverse(f"admin:musicbud_{model}_changelist"), {"q": "demo"})
    adding = moderator_client.get(reverse(f"admin:musicbud_{model}_add"))

    assert listing.status_code == HTTPStatus.OK
    assert searched.status_code == HTTPStatus.OK
    # Taste edges are written by the taste services only; the admin lists and deletes them.
    expected = HTTPStatus.FORBIDDEN if model == "tasteedge" else HTTPStatus.OK
    assert adding.status_code == expected


def test_deleting_taste_edges_in_the_admin_goes_through_the_taste_service(
    moderator_client: Client,
) -> None:
    listener = UserFactory.create()
    kept, dropped = TrackFactory.create(), TrackFactory.create()
    taste_edge_set(user=listener, kind="track", item=kept, relation=Relation.LIKE)
    taste_edge_set(user=listener, kind="track", item=dropped, relation=Relation.LIKE)
    edge = TasteEdge.objects.get(user=listener, track=dropped)
    ProjectionOutbox.objects.all().delete()

    response = moderator_client.post(
        reverse("admin:musicbud_tasteedge_changelist"),
        {"action": "delete_selected", "_selected_action": [edge.pk], "post": "yes"},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert list(TasteEdge.objects.filter(user=listener).values_list("track", flat=True)) == [
        kept.pk
    ]
    # The statistics and the graph outbox saw the removal, as for an unlike through the API.
    assert UserLibrary.objects.get(user=listener).like_track == 1
    outbox = ProjectionOutbox.objects.get()
    assert (outbox.operation, outbox.item_pk) == ("delete", dropped.pk)
    # The remaining edge can be looked at, not edited.
    kept_edge = TasteEdge.objects.get(user=listener)
    view = moderator_client.get(reverse("admin:musicbud_tasteedge_change", args=[kept_edge.pk]))
    assert view.status_code == HTTPStatus.OK
    assert b'name="_save"' not in view.content


def test_user_search_finds_by_username_case_insensitively(moderator_client: Client) -> None:
    UserFactory.create(username="Maya.Okafor", display_name="Maya")
    UserFactory.create(username="leo", display_name="Leo")

    response = moderator_client.get(reverse("admin:musicbud_user_changelist"), {"q": "maya"})

    assert [user.username for user in response.context["cl"].result_list] == ["Maya.Okafor"]


def test_moderator_creates_a_user_with_a_hashed_password(moderator_client: Client) -> None:
    response = moderator_client.post(
        reverse("admin:musicbud_user_add"),
        {
            "username": "NewListener",
            "email": "new@example.org",
            "usable_password": "true",
            "password1": "a-long-and-unusual-passphrase-7",
            "password2": "a-long-and-unusual-passphrase-7",
        },
    )

    created = User.objects.get(username="NewListener")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:musicbud_user_change", args=[created.pk])
    assert created.check_password("a-long-and-unusual-passphrase-7")
    assert created.password.startswith("argon2$")


def test_usernames_differing_only_in_case_are_refused(moderator_client: Client) -> None:
    UserFactory.create(username="newlistener")

    response = moderator_client.post(
        reverse("admin:musicbud_user_add"),
        {
            "username": "NewListener",
            "email": "other@example.org",
            "usable_password": "true",
            "password1": "a-long-and-unusual-passphrase-7",
            "password2": "a-long-and-unusual-passphrase-7",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors == {
        "username": ["A user with that username already exists."]
    }
    assert User.objects.filter(username__iexact="newlistener").count() == 1


def test_groups_are_managed_in_the_admin(moderator_client: Client) -> None:
    response = moderator_client.post(
        reverse("admin:auth_group_add"), {"name": "moderators", "permissions": []}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert list(Group.objects.values_list("name", flat=True)) == ["moderators"]


def test_non_staff_users_are_sent_to_the_login_page(client: Client) -> None:
    client.force_login(UserFactory.create())

    response = client.get(reverse("admin:musicbud_user_changelist"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_moderator_edits_the_profile_fields_the_apps_show(moderator_client: Client) -> None:
    user = UserFactory.create()
    change = reverse("admin:musicbud_user_change", args=[user.pk])
    form = moderator_client.get(change).content.decode()
    for field in ("first_name", "last_name", "location"):
        assert f'name="{field}"' in form

    response = moderator_client.post(
        change,
        {
            "username": user.username,
            "email": user.email,
            "display_name": user.display_name,
            "first_name": "Grace",
            "last_name": "Hopper",
            "location": "Arlington",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.location) == ("Grace", "Hopper", "Arlington")


# --- who may grant what ---------------------------------------------------------------------

PERMISSION_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


def _staff_with(*codenames: str) -> User:
    """A staff member holding only these musicbud permissions (no superuser, no group)."""
    staff = UserFactory.create(is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="musicbud", codename__in=codenames)
    )
    return staff


def _profile_form(user: User, **extra: Any) -> dict[str, Any]:
    """The change form as the admin page posts it, plus ``extra`` fields."""
    return {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "is_active": "on",
        **extra,
    }


def _escalation(group: Group) -> dict[str, Any]:
    return {
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [str(group.pk)],
        "user_permissions": [str(pk) for pk in Permission.objects.values_list("pk", flat=True)],
    }


def _permissions(user: User) -> tuple[bool, bool, list[str], int]:
    user.refresh_from_db()
    return (
        user.is_staff,
        user.is_superuser,
        [group.name for group in user.groups.all()],
        user.user_permissions.count(),
    )


def test_a_staff_member_with_change_user_cannot_make_itself_superuser(client: Client) -> None:
    staff = _staff_with("view_user", "change_user")
    group = Group.objects.create(name="everything")
    client.force_login(staff)
    change = reverse("admin:musicbud_user_change", args=[staff.pk])

    page = client.get(change).content.decode()
    response = client.post(change, _profile_form(staff, location="Lisbon", **_escalation(group)))

    for field in PERMISSION_FIELDS:
        assert f'name="{field}"' not in page
    assert response.status_code == HTTPStatus.FOUND, response.content
    assert _permissions(staff) == (True, False, [], 2)
    assert staff.location == "Lisbon"  # the rest of the form was saved


def test_a_staff_member_cannot_grant_permissions_to_anyone(client: Client) -> None:
    client.force_login(_staff_with("view_user", "change_user"))
    group = Group.objects.create(name="everything")
    member = UserFactory.create()
    change = reverse("admin:musicbud_user_change", args=[member.pk])

    page = client.get(change).content.decode()
    response = client.post(change, _profile_form(member, **_escalation(group)))

    for field in PERMISSION_FIELDS:
        assert f'name="{field}"' not in page
    assert response.status_code == HTTPStatus.FOUND, response.content
    assert _permissions(member) == (False, False, [], 0)


def test_a_staff_member_cannot_change_a_superuser_or_set_its_password(client: Client) -> None:
    client.force_login(_staff_with("view_user", "change_user", "delete_user"))
    boss = UserFactory.create(is_staff=True, is_superuser=True)

    change = reverse("admin:musicbud_user_change", args=[boss.pk])
    posted = client.post(change, _profile_form(boss, email="taken-over@example.org"))
    password = client.post(
        reverse("admin:auth_user_password_change", args=[boss.pk]),
        {"password1": "a-new-passphrase-9", "password2": "a-new-passphrase-9"},
    )
    deleted = client.post(reverse("admin:musicbud_user_delete", args=[boss.pk]), {"post": "yes"})

    assert posted.status_code == HTTPStatus.FORBIDDEN
    assert password.status_code == HTTPStatus.FORBIDDEN
    assert deleted.status_code == HTTPStatus.FORBIDDEN
    boss.refresh_from_db()
    assert boss.email != "taken-over@example.org"
    assert boss.check_password(DEFAULT_PASSWORD)


def test_a_superuser_grants_permissions_to_others_but_not_to_itself(
    moderator_client: Client,
) -> None:
    group = Group.objects.create(name="everything")
    member = UserFactory.create()
    me = User.objects.get(is_superuser=True)
    own_change = reverse("admin:musicbud_user_change", args=[me.pk])

    granted = moderator_client.post(
        reverse("admin:musicbud_user_change", args=[member.pk]),
        _profile_form(member, is_staff="on", groups=[str(group.pk)]),
    )
    own_page = moderator_client.get(own_change).content.decode()
    # Dropping its own flags (and with them the only way back) is refused the same way.
    demoted = moderator_client.post(own_change, _profile_form(me))

    assert granted.status_code == HTTPStatus.FOUND, granted.content
    assert _permissions(member) == (True, False, ["everything"], 0)
    for field in PERMISSION_FIELDS:
        assert f'name="{field}"' not in own_page
    assert demoted.status_code == HTTPStatus.FOUND, demoted.content
    assert _permissions(me) == (True, True, [], 0)


def test_the_user_page_shows_taste_counts_and_connections_without_tokens(
    moderator_client: Client,
) -> None:
    listener = UserFactory.create(username="listener")
    tracks = TrackFactory.create_batch(3)
    for track in tracks:
        taste_edge_set(user=listener, kind="track", item=track, relation=Relation.LIKE)
    taste_edge_set(user=listener, kind="track", item=tracks[0], relation=Relation.PLAYED)
    connection = ProviderConnection.objects.create(
        user=listener,
        provider="spotify",
        account_id="sp-1",
        account_name="Listener at Spotify",
        access_token=token_encrypt("access-secret-value"),
        refresh_token=token_encrypt("refresh-secret-value"),
        connected_at=timezone.now(),
    )
    SyncJob.objects.create(connection=connection, status="succeeded")

    page = moderator_client.get(reverse("admin:musicbud_user_change", args=[listener.pk]))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    edges = reverse("admin:musicbud_tasteedge_changelist")
    likes = f'<a href="{edges}?user__id__exact={listener.pk}&amp;relation=like&amp;kind=track">'
    played = f'<a href="{edges}?user__id__exact={listener.pk}&amp;relation=played&amp;kind=track">'
    assert f"{likes}3</a>" in html
    assert f"{played}1</a>" in html
    assert html.count(f"?user__id__exact={listener.pk}&amp;") == 18  # 3 relations x 6 kinds
    assert "Listener at Spotify" in html
    assert "succeeded (" in html
    assert "secret-value" not in html
    assert connection.access_token not in html
    # The counts' links list exactly those edges.
    listed = moderator_client.get(
        edges, {"user__id__exact": str(listener.pk), "relation": "like", "kind": "track"}
    )
    assert listed.status_code == HTTPStatus.OK
    assert {edge.track_id for edge in listed.context["cl"].queryset} == {t.pk for t in tracks}


def test_the_add_user_page_has_no_taste_or_connections(moderator_client: Client) -> None:
    page = moderator_client.get(reverse("admin:musicbud_user_add"))

    assert page.status_code == HTTPStatus.OK
    assert b"Taste and connections" not in page.content


def test_the_taste_edge_list_shows_one_item_column_and_the_relation_number(
    moderator_client: Client,
) -> None:
    listener = UserFactory.create()
    track = TrackFactory.create(name="Silver Avenue")
    taste_edge_set(user=listener, kind="track", item=track, relation=Relation.TOP, rank=3)
    taste_edge_set(user=listener, kind="track", item=track, relation=Relation.PLAYED, play_count=12)

    page = moderator_client.get(reverse("admin:musicbud_tasteedge_changelist"))

    html = page.content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-([\w]+)', html)
    assert columns == [
        "user",
        "relation",
        "kind",
        "item",
        "weight",
        "source",
        "updated_at",
    ]
    item_link = reverse("admin:musicbud_track_change", args=[track.pk])
    assert html.count(f'<a href="{item_link}">Silver Avenue</a>') == 2
    assert '<td class="field-weight">#3</td>' in html
    assert '<td class="field-weight">12 plays</td>' in html
