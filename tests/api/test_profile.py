"""My profile (cached, hop-free when warm), profile updates, public profiles, user search."""

from __future__ import annotations

import dataclasses
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from musicbud.errors import InvalidInput
from musicbud.models import Relation, User
from musicbud.selectors.profile import profile_get
from musicbud.services.profile import profile_update
from musicbud.services.taste import taste_edge_set
from tests.factories import ArtistFactory, TrackFactory, UserFactory

pytestmark = pytest.mark.django_db


def cached_profile(user_id: int) -> Any:
    """The profile cached under the user's current generation; None when there is none."""
    read = profile_get.cache_read(user_id=user_id)
    assert read.generation_key is not None
    return cache.get(f"{read.key}{cache.get(read.generation_key, 0)}")


ZERO_COUNTS = {"track": 0, "artist": 0, "album": 0, "genre": 0, "anime": 0, "manga": 0}
ENVELOPE_KEYS = {"error", "message", "status_code", "request_id", "timestamp", "code"}


def _iso(value: object) -> str:
    """A datetime as the API's JSON renders it (milliseconds, Z)."""
    return str(DjangoJSONEncoder().default(value))


def test_my_profile_shows_private_fields_and_taste_counts(api_client: Client, user: User) -> None:
    taste_edge_set(user=user, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)
    taste_edge_set(user=user, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)
    taste_edge_set(user=user, kind="artist", item=ArtistFactory.create(), relation="top", rank=1)
    taste_edge_set(
        user=user, kind="track", item=TrackFactory.create(), relation="played", play_count=3
    )

    response = api_client.get(reverse("api-v1:my-profile"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "id": str(user.public_id),
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "bio": "",
        "avatar_url": "",
        "joined_at": _iso(user.date_joined),
        "taste_counts": {
            "likes": {**ZERO_COUNTS, "track": 2},
            "top": {**ZERO_COUNTS, "artist": 1},
            "played": {**ZERO_COUNTS, "track": 1},
        },
        "first_name": "",
        "last_name": "",
        "location": "",
    }


def test_my_profile_requires_authentication(client: Client) -> None:
    response = client.get(reverse("api-v1:my-profile"))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["code"] == "not_authenticated"


def test_warm_profile_read_makes_no_query_and_no_thread_hop(
    user: User, django_assert_num_queries, thread_sensitive_hops: list[str]
) -> None:
    async_to_sync(profile_get)(user_id=user.pk)  # cold: loads and caches
    assert thread_sensitive_hops == ["_profile_load"]
    thread_sensitive_hops.clear()

    with django_assert_num_queries(0):
        profile = async_to_sync(profile_get)(user_id=user.pk)

    assert thread_sensitive_hops == []
    assert profile.username == user.username
    assert profile.user_id == user.pk


def test_warm_profile_request_through_asgi_adds_no_thread_hop(
    user: User, thread_sensitive_hops: list[str]
) -> None:
    url = reverse("api-v1:my-profile")

    async def scenario() -> tuple[Any, list[str], Any, list[str]]:
        client = AsyncClient()
        await client.aforce_login(user)
        thread_sensitive_hops.clear()
        cold = await client.get(url)
        cold_hops = list(thread_sensitive_hops)
        thread_sensitive_hops.clear()
        warm = await client.get(url)
        return cold, cold_hops, warm, list(thread_sensitive_hops)

    # Driven from this (sync) test, the request's thread-sensitive work runs on this thread,
    # inside the test's transaction, through the full ASGI request path.
    cold, cold_hops, warm, warm_hops = async_to_sync(scenario)()

    assert cold.status_code == warm.status_code == HTTPStatus.OK
    assert warm.json() == cold.json()
    assert "_profile_load" in cold_hops
    # Whatever hops the handler and the auth layer in front take, the view adds none.
    assert warm_hops == [hop for hop in cold_hops if hop != "_profile_load"]


def test_warm_profile_request_is_served_from_the_cache(api_client: Client, user: User) -> None:
    with CaptureQueriesContext(connection) as cold:
        api_client.get(reverse("api-v1:my-profile"))
    # Changed behind the services' back: a cached read cannot see it.
    User.objects.filter(pk=user.pk).update(display_name="Changed In The Database")

    with CaptureQueriesContext(connection) as warm:
        response = api_client.get(reverse("api-v1:my-profile"))

    assert response.json()["display_name"] == user.display_name
    # The cold read's own two queries (user row, taste counts) are gone; what remains is the
    # interim session auth in front of the view.
    assert len(cold) - len(warm) == 2
    assert not any("musicbud_tasteedge" in q["sql"] for q in warm.captured_queries)


def test_patch_profile_changes_the_fields_and_the_next_read(api_client: Client, user: User) -> None:
    api_client.get(reverse("api-v1:my-profile"))  # warm the cache

    response = api_client.patch(
        reverse("api-v1:my-profile"),
        {
            "display_name": "  Ada L.  ",
            "bio": "Synth-pop.",
            "avatar_url": "https://img.example/a.png",
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "location": "London",
        },
        content_type="application/json",
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["display_name"] == "Ada L."
    assert response.json()["bio"] == "Synth-pop."
    assert response.json()["avatar_url"] == "https://img.example/a.png"
    assert response.json()["first_name"] == "Ada"
    assert response.json()["last_name"] == "Lovelace"
    assert response.json()["location"] == "London"
    user.refresh_from_db()
    assert (
        user.display_name,
        user.bio,
        user.avatar_url,
        user.first_name,
        user.last_name,
        user.location,
    ) == ("Ada L.", "Synth-pop.", "https://img.example/a.png", "Ada", "Lovelace", "London")
    assert api_client.get(reverse("api-v1:my-profile")).json()["display_name"] == "Ada L."


def test_patch_profile_leaves_omitted_fields_and_clears_with_empty_string(
    api_client: Client, user: User
) -> None:
    User.objects.filter(pk=user.pk).update(bio="Keep me", avatar_url="https://x.example/a.png")

    response = api_client.patch(
        reverse("api-v1:my-profile"), {"avatar_url": ""}, content_type="application/json"
    )

    assert response.status_code == HTTPStatus.OK
    user.refresh_from_db()
    assert (user.bio, user.avatar_url) == ("Keep me", "")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"display_name": "x" * 81}, "body.display_name"),
        ({"bio": "x" * 501}, "body.bio"),
        ({"avatar_url": "javascript:alert(1)"}, "body.avatar_url"),
        ({"avatar_url": "ftp://files.example/a.png"}, "body.avatar_url"),
        ({"avatar_url": "https://" + "a" * 500 + ".example"}, "body.avatar_url"),
        ({"display_name": "tab\tname"}, "body.display_name"),
        ({"display_name": "p\u0430ypal"}, "body.display_name"),  # Cyrillic a
        ({"display_name": "\u3164"}, "body.display_name"),  # Hangul filler: invisible
        ({"display_name": "ana\u202e"}, "body.display_name"),  # bidi override
        ({"display_name": "an\u200da"}, "body.display_name"),  # zero-width joiner
        ({"location": "x" * 101}, "body.location"),
        ({"first_name": "x" * 151}, "body.first_name"),
        ({"last_name": "line\nbreak"}, "body.last_name"),
    ],
)
def test_patch_profile_rejects_invalid_values(
    api_client: Client, user: User, payload: dict[str, str], field: str
) -> None:
    fields = ("display_name", "bio", "avatar_url", "first_name", "last_name", "location")
    before = User.objects.values(*fields).get(pk=user.pk)

    response = api_client.patch(
        reverse("api-v1:my-profile"), payload, content_type="application/json"
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body = response.json()
    assert body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]
    assert User.objects.values(*fields).get(pk=user.pk) == before


def test_patch_profile_null_clears_the_field_as_the_schema_says(
    api_client: Client, user: User
) -> None:
    User.objects.filter(pk=user.pk).update(
        display_name="Ada", bio="Keep me", avatar_url="https://x.example/a.png"
    )
    schema = api_client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    fields = schema["ProfileUpdateIn"]["properties"]

    response = api_client.patch(
        reverse("api-v1:my-profile"),
        {"avatar_url": None, "display_name": None},
        content_type="application/json",
    )

    assert {"type": "null"} in fields["avatar_url"]["anyOf"]
    assert response.status_code == HTTPStatus.OK
    assert (response.json()["avatar_url"], response.json()["display_name"]) == ("", "")
    user.refresh_from_db()
    assert (user.display_name, user.bio, user.avatar_url) == ("", "Keep me", "")


@pytest.mark.parametrize("body", ['"AAA"', "null", "[]", "0", "false", '[{"bio": "x"}]'])
def test_patch_profile_refuses_a_body_that_is_not_an_object(
    api_client: Client, user: User, body: str
) -> None:
    before = User.objects.values("display_name", "bio", "avatar_url", "updated_at").get(pk=user.pk)

    response = api_client.patch(reverse("api-v1:my-profile"), body, content_type="application/json")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body_json = response.json()
    assert set(body_json) == {*ENVELOPE_KEYS, "details"}
    assert body_json["code"] == "validation_error"
    assert [(d["field"], d["type"]) for d in body_json["details"]] == [
        ("body", "model_attributes_type")
    ]
    assert (
        User.objects.values("display_name", "bio", "avatar_url", "updated_at").get(pk=user.pk)
        == before
    )


def test_patch_profile_refuses_unknown_fields(api_client: Client, user: User) -> None:
    before = User.objects.values("display_name", "bio", "email", "is_staff").get(pk=user.pk)

    response = api_client.patch(
        reverse("api-v1:my-profile"),
        {"bio": "new", "is_staff": True, "displayname": "typo"},
        content_type="application/json",
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert sorted((d["field"], d["type"]) for d in response.json()["details"]) == [
        ("body.displayname", "extra_forbidden"),
        ("body.is_staff", "extra_forbidden"),
    ]
    assert User.objects.values("display_name", "bio", "email", "is_staff").get(pk=user.pk) == before


def test_profile_update_drops_the_cached_profile_after_commit(
    user: User, django_capture_on_commit_callbacks
) -> None:
    async_to_sync(profile_get)(user_id=user.pk)
    assert cached_profile(user.pk) is not None

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        async_to_sync(profile_update)(user=user, bio="New")
        # A read re-caches the profile before the commit (one on another connection would
        # read the old row: this one, on the test's, sees the change) ...
        async_to_sync(profile_get)(user_id=user.pk)
    assert cached_profile(user.pk) is not None
    # ... and the after-commit bump retires it.
    for callback in callbacks:
        callback()

    assert cached_profile(user.pk) is None
    assert async_to_sync(profile_get)(user_id=user.pk).bio == "New"


def test_a_moderator_edit_shows_on_the_next_profile_read(
    api_client: Client, django_capture_on_commit_callbacks
) -> None:
    other = UserFactory.create(username="edited", bio="Before")
    url = reverse("api-v1:user-profile", args=["edited"])
    assert api_client.get(url).json()["bio"] == "Before"  # cached now

    # The admin saves the model directly, not through profile_update.
    with django_capture_on_commit_callbacks(execute=True):
        other.bio = "After"
        other.display_name = "Edited By Moderator"
        other.save()
    body = api_client.get(url).json()

    assert (body["bio"], body["display_name"]) == ("After", "Edited By Moderator")


def test_my_taste_changes_refresh_the_cached_counts(
    api_client: Client, user: User, django_capture_on_commit_callbacks
) -> None:
    track = TrackFactory.create()
    url = reverse("api-v1:my-profile")
    assert api_client.get(url).json()["taste_counts"]["likes"]["track"] == 0  # cached now

    with django_capture_on_commit_callbacks(execute=True):
        api_client.put(reverse("api-v1:my-like", args=["tracks", track.public_id]))
    liked = api_client.get(url).json()["taste_counts"]["likes"]["track"]
    with django_capture_on_commit_callbacks(execute=True):
        api_client.delete(reverse("api-v1:my-like", args=["tracks", track.public_id]))
    unliked = api_client.get(url).json()["taste_counts"]["likes"]["track"]

    assert (liked, unliked) == (1, 0)


def test_public_profile_by_username_is_case_insensitive_and_has_no_private_fields(
    api_client: Client,
) -> None:
    other = UserFactory.create(username="DJ.Shadow", bio="Endtroducing")
    taste_edge_set(user=other, kind="artist", item=ArtistFactory.create(), relation=Relation.LIKE)

    response = api_client.get(reverse("api-v1:user-profile", args=["dj.shadow"]))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "id": str(other.public_id),
        "username": "DJ.Shadow",
        "display_name": other.display_name,
        "bio": "Endtroducing",
        "avatar_url": "",
        "joined_at": _iso(other.date_joined),
        "taste_counts": {
            "likes": {**ZERO_COUNTS, "artist": 1},
            "top": ZERO_COUNTS,
            "played": ZERO_COUNTS,
        },
    }


@pytest.mark.parametrize("active", [True, False])
def test_public_profile_of_unknown_or_inactive_user_is_404(
    api_client: Client, active: bool
) -> None:
    UserFactory.create(username="gone", is_active=active)
    name = "nobody" if active else "gone"

    response = api_client.get(reverse("api-v1:user-profile", args=[name]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["error"], body["status_code"], body["code"]) == (True, 404, "user_not_found")


def test_user_search_ranks_username_prefix_first_and_paginates(
    api_client: Client, user: User, auth_queries: int, django_assert_num_queries
) -> None:
    UserFactory.create(username="zz-rockfan", display_name="Z")
    UserFactory.create(username="rocky", display_name="R")
    UserFactory.create(username="alrock", display_name="A")
    UserFactory.create(username="jazzcat", display_name="Rock Lobster")
    UserFactory.create(username="rockinactive", is_active=False)
    UserFactory.create(username="classical", display_name="C")
    url = reverse("api-v1:user-search")

    # The rows, and before the last page the count.
    with django_assert_num_queries(auth_queries + 2):
        first = api_client.get(url, {"q": "ROCK", "limit": "2"})
    with django_assert_num_queries(auth_queries + 1):
        second = api_client.get(first.json()["next"])

    assert [u["username"] for u in first.json()["items"]] == ["rocky", "alrock"]
    assert [u["username"] for u in second.json()["items"]] == ["jazzcat", "zz-rockfan"]
    assert second.json()["next"] is None
    assert first.json()["count"] == second.json()["count"] == 4
    assert set(first.json()["items"][0]) == {"id", "username", "display_name", "avatar_url"}


def test_my_profile_body_is_what_ninja_renders_for_the_schema(
    api_client: Client, user: User
) -> None:
    taste_edge_set(user=user, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)

    mine = api_client.get(reverse("api-v1:my-profile"))  # cold: loads and caches
    again = api_client.get(reverse("api-v1:my-profile"))  # warm: the rendered body
    public = api_client.get(reverse("api-v1:user-profile", args=[user.username]))  # Ninja's

    assert mine["Content-Type"] == public["Content-Type"] == "application/json; charset=utf-8"
    assert again.content == mine.content
    expected = {
        **public.json(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "location": user.location,
    }
    assert mine.json() == expected
    # The same serialisation as Ninja's own path, byte for byte, with the field order of
    # MyProfileOut (PublicProfileOut's fields, then the private ones).
    assert mine.content == DjangoJSONEncoder(separators=(", ", ": ")).encode(expected).encode()


def test_a_changed_cache_entry_is_rendered_on_the_next_read(api_client: Client, user: User) -> None:
    first = api_client.get(reverse("api-v1:my-profile")).json()
    cached = async_to_sync(profile_get)(user_id=user.pk)

    # Another worker refreshed the entry (as profile_refresh does after a write).
    async_to_sync(profile_get.store)(
        dataclasses.replace(cached, display_name="Elsewhere"), user_id=user.pk
    )
    second = api_client.get(reverse("api-v1:my-profile")).json()

    assert first["display_name"] == user.display_name
    assert second == {**first, "display_name": "Elsewhere"}


def test_the_profile_service_refuses_a_display_name_that_could_pass_for_another(
    user: User,
) -> None:
    before = user.display_name
    with pytest.raises(InvalidInput) as refused:
        async_to_sync(profile_update)(user=user, display_name="\u0430dmin")

    assert refused.value.details == [
        {
            "field": "display_name",
            "message": "mixes scripts in '\u0430dmin' (CYRILLIC, LATIN), so it could pass for "
            "another name",
            "type": "display_text",
        }
    ]
    assert User.objects.get(pk=user.pk).display_name == before
