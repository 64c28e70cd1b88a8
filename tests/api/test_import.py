"""The taste import: matching by provider id or name, creating items, atomicity, limits."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from graph.models import UserLibrary
from musicbud.models import Artist, Genre, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_set
from tests.factories import ArtistFactory, TrackFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.taste import taste_edges

pytestmark = pytest.mark.django_db

URL = "api-v1:taste-import"


def _post(client: Client, document: dict[str, Any]):
    return client.post(reverse(URL), json.dumps(document), content_type="application/json")


def test_import_matches_creates_and_reports(api_client: Client, user: User) -> None:
    TrackFactory.create(name="Roads", spotify_id="sp-roads")
    ArtistFactory.create(name="Portishead")
    document = {
        "likes": [
            {"kind": "track", "provider": "spotify", "external_id": "sp-roads"},
            {"kind": "artist", "name": "PORTISHEAD", "provider": "lastfm", "external_id": "lf-p"},
            {"kind": "genre", "name": "Trip-hop"},
        ],
        "top": [{"kind": "artist", "name": "Portishead", "rank": 1}],
        "plays": [{"name": "Glory Box", "play_count": 7, "last_played_at": "2026-02-01T10:00:00Z"}],
    }

    response = _post(api_client, document)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "items": {"created": 2, "matched": 2},
        "edges": {"created": 5, "updated": 0, "removed": 0},
        "skipped": [],
    }
    assert taste_edges(user) == {
        ("like", "track", "Roads", None, None, "import"),
        ("like", "artist", "Portishead", None, None, "import"),
        ("like", "genre", "Trip-hop", None, None, "import"),
        ("top", "artist", "Portishead", 1, None, "import"),
        ("played", "track", "Glory Box", None, 7, "import"),
    }
    # Matched by name, the artist keeps the provider id it was given; nothing is duplicated.
    assert list(Artist.objects.values_list("name", "lastfm_id")) == [("Portishead", "lf-p")]
    assert Genre.objects.get().name == "Trip-hop"
    assert Track.objects.count() == 2


def test_import_refreshes_my_cached_profile_after_commit(
    api_client: Client, user: User, django_capture_on_commit_callbacks
) -> None:
    profile_url = reverse("api-v1:my-profile")
    assert api_client.get(profile_url).json()["taste_counts"]["likes"]["genre"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        _post(api_client, {"likes": [{"kind": "genre", "name": "Dub"}]})

    assert api_client.get(profile_url).json()["taste_counts"]["likes"]["genre"] == 1


def test_import_twice_updates_instead_of_duplicating(api_client: Client, user: User) -> None:
    document = {
        "likes": [{"kind": "genre", "name": "Dub"}],
        "top": [{"kind": "genre", "name": "Dub", "rank": 3}],
    }
    _post(api_client, document)

    response = _post(api_client, document)

    assert response.json() == {
        "items": {"created": 0, "matched": 1},
        "edges": {"created": 0, "updated": 2, "removed": 0},
        "skipped": [],
    }
    assert TasteEdge.objects.filter(user=user).count() == 2
    assert Genre.objects.count() == 1


def test_import_skips_repeated_entries_and_creates_a_named_item_once(
    api_client: Client, user: User
) -> None:
    document = {
        "likes": [
            {"kind": "artist", "name": "Tricky", "provider": "spotify", "external_id": "sp-t"},
            {"kind": "artist", "name": "tricky"},
            {"kind": "artist", "provider": "spotify", "external_id": "sp-t"},
        ]
    }

    response = _post(api_client, document)

    assert response.json() == {
        "items": {"created": 1, "matched": 0},
        "edges": {"created": 1, "updated": 0, "removed": 0},
        "skipped": [
            {"section": "likes", "index": 1, "reason": "same item as likes[0]"},
            {"section": "likes", "index": 2, "reason": "same item as likes[0]"},
        ],
    }
    assert list(Artist.objects.values_list("name", "spotify_id")) == [("Tricky", "sp-t")]


def test_import_is_all_or_nothing(api_client: Client, user: User) -> None:
    ArtistFactory.create(name="Existing")
    document = {
        "likes": [
            {"kind": "artist", "name": "New Artist"},
            {"kind": "artist", "name": "Existing"},
            # Unknown provider id and no name to create it with: the whole import fails.
            {"kind": "track", "provider": "ytmusic", "external_id": "nowhere"},
            {"kind": "genre", "name": "Never Written"},
        ]
    }

    response = _post(api_client, document)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body = response.json()
    assert body["code"] == "import_unresolved_item"
    assert body["details"] == {"section": "likes", "index": 2}
    assert TasteEdge.objects.count() == 0
    assert list(Artist.objects.values_list("name", flat=True)) == ["Existing"]
    assert Genre.objects.count() == 0


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"likes": [{"kind": "track"}]}, "body.likes.0"),
        ({"likes": [{"kind": "track", "provider": "spotify"}]}, "body.likes.0"),
        ({"likes": [{"kind": "band", "name": "x"}]}, "body.likes.0.kind"),
        (
            {"likes": [{"kind": "track", "provider": "napster", "external_id": "1"}]},
            "body.likes.0.provider",
        ),
        ({"top": [{"kind": "artist", "name": "x", "rank": 0}]}, "body.top.0.rank"),
        ({"plays": [{"name": "x", "play_count": 0}]}, "body.plays.0.play_count"),
        (
            {"plays": [{"kind": "artist", "name": "x", "play_count": 1}]},
            "body.plays.0.kind",
        ),
        ({"likes": [{"kind": "track", "name": "x", "extra": 1}]}, "body.likes.0.extra"),
        ({"loves": []}, "body.loves"),
        ({}, "body"),
    ],
)
def test_import_rejects_invalid_documents(
    api_client: Client, document: dict[str, Any], field: str
) -> None:
    response = _post(api_client, document)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert [d["field"] for d in response.json()["details"]] == [field]
    assert TasteEdge.objects.count() == 0


def test_import_rejects_documents_over_the_entry_limit(api_client: Client, settings: Any) -> None:
    settings.TASTE_IMPORT_MAX_ENTRIES = 3
    at_limit = {"likes": [{"kind": "genre", "name": f"G{i}"} for i in range(3)]}
    over = {
        "likes": [{"kind": "genre", "name": "A"}, {"kind": "genre", "name": "B"}],
        "top": [
            {"kind": "genre", "name": "C", "rank": 1},
            {"kind": "genre", "name": "D", "rank": 2},
        ],
    }

    rejected = _post(api_client, over)
    accepted = _post(api_client, at_limit)

    assert rejected.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "4 entries; one import takes at most 3" in rejected.json()["details"][0]["message"]
    assert accepted.status_code == HTTPStatus.OK
    assert sorted(Genre.objects.values_list("name", flat=True)) == ["G0", "G1", "G2"]


def test_import_format_is_documented_with_an_example(client: Client) -> None:
    schema = client.get(reverse("api-v1:openapi-json")).json()

    operation = schema["paths"]["/api/v1/me/taste/import"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    example = component["examples"][0]
    assert set(example) == {"likes", "top", "plays"}
    assert example["likes"][0] == {
        "kind": "track",
        "provider": "spotify",
        "external_id": "3n3Ppam7vgaVa1iaRUc9Lp",
        "name": "Mr. Brightside",
        "artist": "The Killers",
    }


def test_the_documented_example_imports(api_client: Client, user: User, client: Client) -> None:
    schema = client.get(reverse("api-v1:openapi-json")).json()
    example = schema["components"]["schemas"]["TasteImportIn"]["examples"][0]

    response = _post(api_client, example)

    assert response.status_code == HTTPStatus.OK
    # Five items, and the two artists the track and the play credit.
    assert response.json() == {
        "items": {"created": 7, "matched": 0},
        "edges": {"created": 5, "updated": 0, "removed": 0},
        "skipped": [],
    }
    assert sorted(Track.objects.values_list("name", "artists__name")) == [
        ("Mr. Brightside", "The Killers"),
        ("Never Gonna Give You Up", "Rick Astley"),
    ]


def test_a_name_shared_by_several_tracks_needs_the_artist(api_client: Client, user: User) -> None:
    killers, cover_band = ArtistFactory.create(name="The Killers"), ArtistFactory.create()
    original = TrackFactory.create(name="Mr. Brightside")
    original.artists.add(killers)
    cover = TrackFactory.create(name="Mr. Brightside")
    cover.artists.add(cover_band)

    ambiguous = _post(api_client, {"likes": [{"kind": "track", "name": "Mr. Brightside"}]})
    named = _post(
        api_client,
        {"likes": [{"kind": "track", "name": "mr. brightside", "artist": "the killers"}]},
    )

    assert_envelope(
        ambiguous,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "import_ambiguous_item",
        "likes[0]: several tracks are named 'Mr. Brightside'; give the artist or a provider id",
    )
    assert named.status_code == HTTPStatus.OK
    assert named.json()["items"] == {"created": 0, "matched": 1}
    assert list(TasteEdge.objects.filter(user=user).values_list("track", flat=True)) == [
        original.pk
    ]


def test_artist_is_refused_on_genres_and_artists(api_client: Client) -> None:
    response = _post(api_client, {"likes": [{"kind": "genre", "name": "Rock", "artist": "X"}]})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "artist goes with tracks and albums only" in str(response.json()["details"])


def test_top_entries_replace_that_kinds_top_list(api_client: Client, user: User) -> None:
    old_first, kept, other_kind = (
        ArtistFactory.create(name="Old First"),
        ArtistFactory.create(name="Kept"),
        TrackFactory.create(name="Top Track"),
    )
    taste_edge_set(user=user, kind="artist", item=old_first, relation="top", rank=1)
    taste_edge_set(user=user, kind="artist", item=kept, relation="top", rank=2)
    taste_edge_set(user=user, kind="track", item=other_kind, relation="top", rank=1)

    response = _post(
        api_client,
        {
            "top": [
                {"kind": "artist", "name": "New First", "rank": 1},
                {"kind": "artist", "name": "Kept", "rank": 3},
            ]
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["edges"] == {"created": 1, "updated": 1, "removed": 1}
    tops = TasteEdge.objects.filter(user=user, relation="top")
    assert sorted(tops.filter(kind="artist").values_list("artist__name", "rank")) == [
        ("Kept", 3),
        ("New First", 1),
    ]
    # Tracks were not in the document: their top list is untouched.
    assert list(tops.filter(kind="track").values_list("track", "rank")) == [(other_kind.pk, 1)]
    assert UserLibrary.objects.get(user=user).top_artist == 2


def test_two_top_entries_at_one_rank_are_refused(api_client: Client, user: User) -> None:
    response = _post(
        api_client,
        {
            "top": [
                {"kind": "artist", "name": "A", "rank": 1},
                {"kind": "artist", "name": "B", "rank": 1},
            ]
        },
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "each rank may be given once per kind" in str(response.json()["details"])
    assert Artist.objects.count() == 0
