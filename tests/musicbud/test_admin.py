"""The admin a moderator uses: every model's list, search and add pages, and user creation."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from graph.models import ProjectionOutbox, UserLibrary
from musicbud.models import Relation, TasteEdge, User
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory
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
