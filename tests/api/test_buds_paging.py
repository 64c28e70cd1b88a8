"""Bud rankings paged both ways through the API: `next` reads on, `previous` leads to the page
just before (same filters and limit), null on the first page; cached pages link the same."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from django.test import Client
from django.urls import reverse

from graph.scoring import encode_cursor
from musicbud.models import Artist, Relation, Track, User
from musicbud.services.taste import taste_edge_set
from tests.factories import ArtistFactory, TrackFactory, UserFactory

pytestmark = pytest.mark.django_db


@dataclass
class Ranking:
    me: User
    close: list[str]  # like the hit and rare1, as I do: by public id
    far: list[str]  # like the hit only: by public id
    fans: list[str]  # like only the band I like (no track): by public id
    hit: Track
    band: Artist


@pytest.fixture
def ranking(user: User) -> Ranking:
    """I like the tracks hit, rare1 and rare2 and the artist band. Three people like hit and
    rare1 (more alike me than) four who like hit only; two more like band only."""
    hit, rare1, rare2 = (TrackFactory.create(name=name) for name in ("hit", "rare1", "rare2"))
    band = ArtistFactory.create(name="band")
    for track in (hit, rare1, rare2):
        taste_edge_set(user=user, kind="track", item=track, relation=Relation.LIKE)
    taste_edge_set(user=user, kind="artist", item=band, relation=Relation.LIKE)

    def people(prefix: str, count: int, tracks: list[Track], artists: list[Artist]) -> list[str]:
        made = [UserFactory.create(username=f"{prefix}{n}") for n in range(count)]
        for person in made:
            for track in tracks:
                taste_edge_set(user=person, kind="track", item=track, relation=Relation.LIKE)
            for artist in artists:
                taste_edge_set(user=person, kind="artist", item=artist, relation=Relation.LIKE)
        return [p.username for p in sorted(made, key=lambda p: p.public_id)]

    return Ranking(
        me=user,
        close=people("close", 3, [hit, rare1], []),
        far=people("far", 4, [hit], []),
        fans=people("fan", 2, [], [band]),
        hit=hit,
        band=band,
    )


def _usernames(body: dict[str, Any]) -> list[str]:
    return [bud["user"]["username"] for bud in body["items"]]


def _get(client: Client, link: str) -> dict[str, Any]:
    response = client.get(link)
    assert response.status_code == HTTPStatus.OK, response.content
    body: dict[str, Any] = response.json()
    return body


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


Pages = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]


def _three_and_back(client: Client, start: str, expected: list[str]) -> Pages:
    """Pages 1-3 read forward from ``start`` (two a page, checked against ``expected``), then
    pages 2 and 1 read back through ``previous``: (first, second, third, back 2, back 1)."""
    first = _get(client, start)
    second = _get(client, first["next"])
    third = _get(client, second["next"])
    back_second = _get(client, third["previous"])
    back_first = _get(client, back_second["previous"])

    assert [_usernames(page) for page in (first, second, third)] == [
        expected[0:2],
        expected[2:4],
        expected[4:6],
    ]
    assert first["previous"] is None
    return first, second, third, back_second, back_first


def test_my_buds_read_forward_to_page_3_and_back_to_page_1(
    api_client: Client, ranking: Ranking
) -> None:
    url = reverse("api-v1:my-buds")
    expected = ranking.close + ranking.far  # on tracks the fans share nothing with me

    first, second, third, back_second, back_first = _three_and_back(
        api_client, f"{url}?kind=tracks&limit=2", expected
    )
    assert first["count"] == len(expected)
    # Read back, each page is the one read forward, its links and count included.
    assert back_second == second
    assert back_first == first
    assert back_first["previous"] is None
    for link in (second["previous"], third["previous"], third["next"], back_second["previous"]):
        assert link.startswith(f"{url}?")
        query = _query(link)
        assert (query["kind"], query["limit"], len(query["cursor"])) == (["tracks"], ["2"], 1)
    # The last page links back too, and no further on.
    last = _get(api_client, third["next"])
    assert _usernames(last) == expected[6:]
    assert last["next"] is None
    assert _get(api_client, last["previous"]) == third


def test_a_cached_page_keeps_its_previous_link(api_client: Client, ranking: Ranking) -> None:
    url = reverse("api-v1:my-buds")
    first = _get(api_client, f"{url}?limit=5")

    cold = api_client.get(first["next"])
    warm = api_client.get(first["next"])
    back = _get(api_client, cold.json()["previous"])

    assert warm.content == cold.content
    # Without a kind the band's fans rank too (after everyone sharing a track).
    everyone = ranking.close + ranking.far + ranking.fans
    assert sorted(_usernames(first) + _usernames(cold.json())) == sorted(everyone)
    assert cold.json()["next"] is None
    assert back == first
    assert _query(cold.json()["previous"])["limit"] == ["5"]


def test_item_buds_read_forward_to_page_3_and_back_to_page_1(
    api_client: Client, ranking: Ranking
) -> None:
    url = reverse("api-v1:item-buds", args=["tracks", ranking.hit.public_id])
    # The hit means most to whom it is all they like, least to me (I like three tracks).
    expected = [*ranking.far, *ranking.close, ranking.me.username]

    first, second, third, back_second, back_first = _three_and_back(
        api_client, f"{url}?limit=2", expected
    )
    assert back_second == second
    assert back_first == first
    assert back_first["previous"] is None
    for link in (second["previous"], third["previous"], third["next"]):
        assert link.startswith(f"{url}?limit=2&cursor=")
    last = _get(api_client, third["next"])
    assert _usernames(last) == expected[6:]
    assert (last["next"], _get(api_client, last["previous"])) == (None, third)


def test_a_backward_link_from_the_first_bud_reads_an_empty_page(
    api_client: Client, ranking: Ranking
) -> None:
    # What a client holding a stale previous link follows once every bud before its page is
    # gone: an empty page linking nowhere, not an error.
    url = reverse("api-v1:my-buds")
    top = _get(api_client, f"{url}?kind=tracks&limit=1")["items"][0]
    cursor = encode_cursor(top["score"], UUID(top["user"]["id"]), backward=True)

    body = _get(api_client, f"{url}?kind=tracks&limit=2&cursor={cursor}")

    assert top["user"]["username"] == ranking.close[0]
    assert body == {"items": [], "count": 7, "next": None, "previous": None}
