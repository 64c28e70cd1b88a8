"""Permission-guarded admin operations: 401/403 in the envelope, group changes apply at once."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from musicbud.models import Relation, User
from musicbud.services.taste import taste_edge_set
from tests.factories import ArtistFactory, TrackFactory, UserFactory
from tests.fixtures.http import assert_envelope, bearer

pytestmark = pytest.mark.django_db

Login = Callable[..., dict[str, Any]]
STATS = "api-v1:admin-stats"


def test_stats_without_the_permission_is_403_naming_it(
    client: Client, user: User, login: Login
) -> None:
    response = client.get(reverse(STATS), headers=bearer(login(user)["access_token"]))

    body = assert_envelope(response, HTTPStatus.FORBIDDEN, "permission_denied")
    assert body["message"] == "Permission 'musicbud.view_stats' required"


def test_stats_without_credentials_is_401(client: Client) -> None:
    response = client.get(reverse(STATS))

    assert_envelope(response, HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_permission_granted_through_a_group_in_the_admin_applies_to_the_next_request(
    client: Client, user: User, login: Login
) -> None:
    access = login(user)["access_token"]
    assert client.get(reverse(STATS), headers=bearer(access)).status_code == 403  # user cached
    tracks = TrackFactory.create_batch(2)
    ArtistFactory.create()
    taste_edge_set(user=user, kind="track", item=tracks[0], relation=Relation.LIKE)
    superuser = UserFactory.create(is_superuser=True, is_staff=True)
    UserFactory.create(is_active=False)
    admin = Client()
    admin.force_login(superuser)
    view_stats = Permission.objects.get(codename="view_stats")

    # Through the admin's own forms: a group holding the permission, the user put in it.
    created = admin.post(
        reverse("admin:auth_group_add"), {"name": "stats readers", "permissions": [view_stats.pk]}
    )
    assert created.status_code == HTTPStatus.FOUND
    group = Group.objects.get(name="stats readers")
    changed = admin.post(
        reverse("admin:musicbud_user_change", args=[user.pk]),
        {
            "username": user.username,
            "email": user.email,
            "display_name": user.display_name,
            "bio": "",
            "avatar_url": "",
            "is_active": "on",
            "groups": [group.pk],
        },
    )
    assert changed.status_code == HTTPStatus.FOUND, changed.content
    assert list(user.groups.all()) == [group]

    response = client.get(reverse(STATS), headers=bearer(access))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "users": 3,
        "active_users": 2,
        "tracks": 2,
        "artists": 1,
        "albums": 0,
        "genres": 0,
        "taste_edges": 1,
    }

    # Taking the permission off the group applies as quickly.
    removed = admin.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": group.name, "permissions": []}
    )
    assert removed.status_code == HTTPStatus.FOUND
    assert client.get(reverse(STATS), headers=bearer(access)).status_code == 403


def test_stats_through_a_session_for_a_superuser(client: Client) -> None:
    admin = UserFactory.create(is_superuser=True, is_staff=True)
    client.force_login(admin)

    assert client.get(reverse(STATS)).status_code == HTTPStatus.OK
