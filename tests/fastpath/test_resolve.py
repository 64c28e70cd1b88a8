"""A path's URL match is remembered per resolver (``fastpath.handler.resolve_path``): the same
answer as Django's resolver, one pattern walk per path, a copy per request, no 404 kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.urls import Resolver404, URLResolver, get_resolver, reverse
from django.urls.resolvers import ResolverMatch

from fastpath import handler
from fastpath.handler import HopFreeASGIHandler, resolve_path
from tests.fixtures.asgi import asgi_request


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> tuple[URLResolver, list[str]]:
    """A fresh resolver of the project's URLconf, counting the paths it actually resolves."""
    fresh = URLResolver(get_resolver().pattern, get_resolver().urlconf_name)
    walked: list[str] = []
    resolve: Callable[[str], ResolverMatch] = fresh.resolve

    def counting(path: str) -> ResolverMatch:
        walked.append(path)
        return resolve(path)

    monkeypatch.setattr(fresh, "resolve", counting)
    return fresh, walked


def item_path(item_id: uuid.UUID) -> str:
    return reverse("api-v1:catalogue-item", kwargs={"kind": "tracks", "item_id": item_id})


def test_a_path_is_resolved_once_and_answers_as_django(
    resolver: tuple[URLResolver, list[str]],
) -> None:
    fresh, walked = resolver
    path = reverse("api-v1:my-profile")

    first, second = resolve_path(fresh, path), resolve_path(fresh, path)

    assert walked == [path]
    expected = get_resolver().resolve(path)
    for match in (first, second):
        assert match.func == expected.func
        assert (match.args, match.kwargs) == (expected.args, expected.kwargs)
        assert (match.url_name, match.route, match.namespaces) == (
            expected.url_name,
            expected.route,
            expected.namespaces,
        )


def test_each_request_gets_its_own_match_and_arguments(
    resolver: tuple[URLResolver, list[str]],
) -> None:
    fresh, walked = resolver
    one, other = uuid.uuid4(), uuid.uuid4()

    first = resolve_path(fresh, item_path(one))
    first.kwargs["item_id"] = "changed by a request"
    again = resolve_path(fresh, item_path(one))
    different = resolve_path(fresh, item_path(other))

    assert again is not first
    assert again.kwargs == {"kind": "tracks", "item_id": str(one)}
    assert different.kwargs == {"kind": "tracks", "item_id": str(other)}
    assert walked == [item_path(one), item_path(other)]


def test_a_404_is_never_kept(resolver: tuple[URLResolver, list[str]]) -> None:
    fresh, walked = resolver
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolve_path(fresh, "/no/such/path")

    assert walked == ["/no/such/path", "/no/such/path"]
    kept: dict[str, Any] = fresh.__dict__[handler._RESOLVED_ATTRIBUTE]
    assert "/no/such/path" not in kept


def test_the_memo_is_bounded_oldest_first(
    resolver: tuple[URLResolver, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh, walked = resolver
    monkeypatch.setattr(handler, "RESOLVED_PATHS_MAX", 2)
    paths = [item_path(uuid.uuid4()) for _ in range(3)]
    for path in paths:
        resolve_path(fresh, path)

    assert list(fresh.__dict__[handler._RESOLVED_ATTRIBUTE]) == paths[1:]
    resolve_path(fresh, paths[0])  # evicted: walked again
    assert walked == [*paths, paths[0]]


@pytest.mark.django_db
async def test_the_handler_serves_with_remembered_matches() -> None:
    app = HopFreeASGIHandler()
    path = reverse("health-live")
    for _ in range(2):
        response = await asgi_request(app, path)
        assert response.status == HTTPStatus.OK
    assert path in get_resolver().__dict__[handler._RESOLVED_ATTRIBUTE]
    missing = await asgi_request(app, "/no/such/path")
    assert missing.status == HTTPStatus.NOT_FOUND
    assert "/no/such/path" not in get_resolver().__dict__[handler._RESOLVED_ATTRIBUTE]
