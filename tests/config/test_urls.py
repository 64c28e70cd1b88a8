"""The site's own addresses: a landing answer at ``/``, and the slash variant of each
slashless page redirecting to it."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import resolve, reverse

from api.legacy.api import RouteTable
from config import urls
from config.environment import AppEnvironment

pytestmark = pytest.mark.django_db


def test_the_root_answers_links_to_the_docs_health_and_admin(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "name": "musicbud",
        "links": {
            "docs": "/api/docs",
            "openapi": "/api/v1/openapi.json",
            "legacy_openapi": "/api/legacy/openapi.json",
            "health": "/health/ready",
            "admin": "/admin/",
        },
    }
    for link in response.json()["links"].values():
        assert client.get(link).status_code in (HTTPStatus.OK, HTTPStatus.FOUND), link


def test_the_root_shadows_no_legacy_route() -> None:
    # The legacy API is mounted at the root too: "/" must be exactly the landing and nothing
    # a legacy client calls.
    tables = [p for p in _flatten(urls.urlpatterns) if isinstance(p, RouteTable)]
    assert tables
    assert all("" not in table.views for table in tables)
    assert resolve("/").url_name == "landing"
    assert resolve("/login/").route == "login/"


@pytest.mark.parametrize(
    ("slashed", "page"),
    [
        ("/api/docs/", "api-docs"),
        ("/health/live/", "health-live"),
        ("/health/ready/", "health-ready"),
        ("/metrics/", "metrics"),
        ("/connect/done/", "connect-done"),
    ],
)
def test_a_slashless_page_asked_for_with_a_slash_redirects_permanently(
    client: Client, slashed: str, page: str
) -> None:
    response = client.get(f"{slashed}?x=1")

    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"] == f"{reverse(page)}?x=1"


def _flatten(patterns: Sequence[object]) -> list[object]:
    found: list[object] = []
    for pattern in patterns:
        found.append(pattern)
        found.extend(_flatten(getattr(pattern, "url_patterns", [])))
    return found


def test_the_connect_done_page_says_whether_connecting_worked(client: Client) -> None:
    done = reverse("connect-done")

    ok = client.get(done, {"provider": "spotify", "status": "ok"})
    failed = client.get(done, {"provider": "lastfm", "status": "error"})
    odd = client.get(done, {"provider": "<script>x</script>", "status": "ok"})

    assert ok.status_code == HTTPStatus.OK
    assert ok["Content-Type"] == "text/html; charset=utf-8"
    page = ok.content.decode()
    assert "<h1>Spotify is connected</h1>" in page
    assert f"<code>GET {reverse('api-v1:connection', args=['spotify'])}</code>" in page
    assert "<h1>Last.fm was not connected</h1>" in failed.content.decode()
    assert "<h1>The service is connected</h1>" in odd.content.decode()
    assert b"<script>" not in odd.content


def test_connecting_lands_on_that_page_unless_configured_otherwise() -> None:
    assert AppEnvironment.model_fields["CONNECT_DONE_URL"].default == reverse("connect-done")
