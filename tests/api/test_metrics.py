"""/metrics: what it counts (by route template), who may read it, and several processes."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from api import metrics
from graph.models import ProjectionOutbox
from musicbud.models import Relation, User
from musicbud.services.taste import taste_edge_set
from tests.docker.test_gunicorn_conf import load_conf
from tests.factories import TrackFactory
from tests.fixtures.http import assert_envelope
from tests.fixtures.processes import run_python, run_pythons

# Every scrape also reads the projection lag from the outbox table.
pytestmark = [pytest.mark.urls("tests.api.probe"), pytest.mark.django_db]

ITEM_ROUTE = "/api/v1/probe-api/probe/items/<item_id>"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped_value(text: str, name: str, **labels: str) -> float:
    rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(rendered)}\}} (\S+)$", text, re.M)
    assert match is not None, f"{name}{{{rendered}}} not in the scrape"
    return float(match.group(1))


def test_requests_are_counted_by_route_template_method_and_status(client: Client) -> None:
    labels = {"route": ITEM_ROUTE, "method": "GET", "status": "200"}
    before = sample("musicbud_http_requests_total", **labels)
    latency_before = sample(
        "musicbud_http_request_duration_seconds_count", route=ITEM_ROUTE, method="GET"
    )

    for item_id in (1, 2, 3):
        assert client.get(reverse("probe:probe-item", args=[item_id])).status_code == 200
    scrape = client.get(reverse("metrics"))

    assert scrape.status_code == HTTPStatus.OK
    assert scrape["Content-Type"].startswith("text/plain; version=")
    text = scrape.content.decode()
    assert scraped_value(text, "musicbud_http_requests_total", **labels) == before + 3
    assert (
        scraped_value(
            text, "musicbud_http_request_duration_seconds_count", route=ITEM_ROUTE, method="GET"
        )
        == latency_before + 3
    )
    # Never the raw path: one series for every item id.
    assert "/probe/items/1" not in text
    assert "/probe/items/2" not in text


@override_settings(MAX_REQUEST_BODY_BYTES=10)
def test_bodies_refused_before_the_view_are_counted_under_their_route(client: Client) -> None:
    route = "/api/v1/probe-api/probe/items"
    too_large = {"route": route, "method": "POST", "status": "413"}
    wrong_type = {"route": route, "method": "POST", "status": "415"}
    before = (
        sample("musicbud_http_requests_total", **too_large),
        sample("musicbud_http_requests_total", **wrong_type),
    )

    client.post(reverse("probe:probe-items"), "x" * 11, content_type="application/json")
    client.post(reverse("probe:probe-items"), "x", content_type="text/plain")

    assert (
        sample("musicbud_http_requests_total", **too_large),
        sample("musicbud_http_requests_total", **wrong_type),
    ) == (before[0] + 1, before[1] + 1)


def test_unmatched_urls_share_one_route_label(client: Client) -> None:
    labels = {"route": metrics.UNMATCHED_ROUTE, "method": "GET", "status": "404"}
    before = sample("musicbud_http_requests_total", **labels)

    client.get("/random/a")
    client.get("/random/b")

    assert sample("musicbud_http_requests_total", **labels) == before + 2


async def test_in_flight_counts_the_request_being_served(async_client: AsyncClient) -> None:
    before = sample("musicbud_http_requests_in_flight")

    response = await async_client.get(reverse("probe:probe-in-flight"))

    assert response.json() == {"in_flight": before + 1}
    assert sample("musicbud_http_requests_in_flight") == before


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
async def test_unhandled_errors_are_counted(client_class: type) -> None:
    labels = {"route": "/api/v1/probe-api/probe/boom", "method": "GET"}
    before = sample("musicbud_http_unhandled_errors_total", **labels)
    client = client_class(raise_request_exception=False)

    response = client.get(reverse("probe:probe-boom"))
    if client_class is AsyncClient:
        response = await response

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert sample("musicbud_http_unhandled_errors_total", **labels) == before + 1


@override_settings(RATE_LIMIT_PER_MINUTE=1)
def test_rate_limit_rejections_are_counted(client: Client) -> None:
    labels = {"group": "tests.api.probe.sync_ok", "policy": "standard"}
    before = sample("musicbud_rate_limit_rejections_total", **labels)

    statuses = [client.get(reverse("probe:probe-sync")).status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    assert sample("musicbud_rate_limit_rejections_total", **labels) == before + 2


def test_cache_hits_and_misses_of_real_reads_are_counted(
    api_client: Client, client: Client
) -> None:
    hits = sample("musicbud_cache_lookups_total", cache="profile", result="hit")
    misses = sample("musicbud_cache_lookups_total", cache="profile", result="miss")

    api_client.get(reverse("api-v1:my-profile"))  # cold: miss, then cached
    api_client.get(reverse("api-v1:my-profile"))  # warm: hit
    api_client.get(reverse("api-v1:my-profile"))  # warm: hit
    text = client.get(reverse("metrics")).content.decode()

    assert scraped_value(text, "musicbud_cache_lookups_total", cache="profile", result="hit") == (
        hits + 2
    )
    assert scraped_value(text, "musicbud_cache_lookups_total", cache="profile", result="miss") == (
        misses + 1
    )


def test_graph_projection_lag_is_read_at_scrape_time(user: User, client: Client) -> None:
    # The fixture user's node row, as if the worker had projected it.
    ProjectionOutbox.objects.update(applied_at=timezone.now())
    caught_up = client.get(reverse("metrics")).content.decode()
    taste_edge_set(user=user, kind="track", item=TrackFactory.create(), relation=Relation.LIKE)
    ProjectionOutbox.objects.update(created_at=timezone.now() - timedelta(seconds=30))

    behind = client.get(reverse("metrics")).content.decode()

    assert re.search(r"^musicbud_graph_projection_lag_seconds 0\.0$", caught_up, re.M)
    assert re.search(r"^musicbud_graph_projection_pending 0\.0$", caught_up, re.M)
    assert re.search(r"^musicbud_graph_projection_pending 1\.0$", behind, re.M)
    lag = re.search(r"^musicbud_graph_projection_lag_seconds ([0-9.]+)$", behind, re.M)
    assert lag is not None
    # 30 s old, plus however long the scrape took to start.
    assert 30.0 <= float(lag.group(1)) < 40.0


def test_metrics_are_not_public(client: Client) -> None:
    response = client.get(reverse("metrics"), REMOTE_ADDR="203.0.113.9")

    assert_envelope(response, HTTPStatus.FORBIDDEN, "permission_denied", "Metrics are not public")
    assert b"musicbud_http_requests_total" not in response.content


@override_settings(METRICS_TOKEN="scrape-token-0123456789")
def test_a_bearer_token_opens_metrics_from_anywhere(client: Client) -> None:
    outside: Any = {"REMOTE_ADDR": "203.0.113.9"}

    good = client.get(
        reverse("metrics"), HTTP_AUTHORIZATION="Bearer scrape-token-0123456789", **outside
    )
    wrong = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer scrape-token-x", **outside)
    missing = client.get(reverse("metrics"), **outside)

    # A non-ASCII token is just a wrong token, not a 500.
    hostile = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer \xff\u00e9", **outside)

    assert good.status_code == HTTPStatus.OK
    assert b"musicbud_http_requests_total" in good.content
    assert (wrong.status_code, missing.status_code) == (HTTPStatus.FORBIDDEN, HTTPStatus.FORBIDDEN)
    assert hostile.status_code == HTTPStatus.FORBIDDEN


@override_settings(METRICS_ALLOWED_NETWORKS=["10.20.0.0/16"], TRUSTED_PROXY_COUNT=0)
def test_allow_listed_networks_may_scrape(client: Client) -> None:
    from api.metrics import _allowed_networks

    _allowed_networks.cache_clear()
    try:
        inside = client.get(reverse("metrics"), REMOTE_ADDR="10.20.3.4")
        loopback = client.get(reverse("metrics"), REMOTE_ADDR="127.0.0.1")
        # A forged X-Forwarded-For is not believed without trusted proxies.
        forged = client.get(
            reverse("metrics"), REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.20.3.4"
        )
    finally:
        _allowed_networks.cache_clear()

    assert inside.status_code == HTTPStatus.OK
    assert (loopback.status_code, forged.status_code) == (403, 403)


def test_metrics_from_several_processes_are_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each "worker" is its own interpreter serving two requests; a third one scrapes.
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ENVIRONMENT": "test",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    worker = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "assert c.get('/health/live').status_code == 200; "
        "assert c.get('/health/live').status_code == 200; import os; print(os.getpid())"
    )
    scraper = (
        "import django; django.setup(); from api.metrics import render_metrics; "
        "print(render_metrics().decode())"
    )

    def run(script: str) -> str:
        return run_python(script, env).stdout

    # The workers are independent: they run side by side, as a server's do.
    first_pid, second_pid = (int(out.split()[-1]) for out in run_pythons(worker, worker, env=env))
    text = run(scraper)

    labels = {"method": "GET", "route": "/health/live", "status": "200"}
    assert scraped_value(text, "musicbud_http_requests_total", **labels) == 4.0
    assert {p.name for p in tmp_path.glob("counter_*.db")} == {
        f"counter_{first_pid}.db",
        f"counter_{second_pid}.db",
    }
    # A dead worker's live gauges go; its counters stay in the totals.
    gunicorn_conf = load_conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    gunicorn_conf.child_exit(SimpleNamespace(), SimpleNamespace(pid=first_pid))
    assert not (tmp_path / f"gauge_livesum_{first_pid}.db").exists()
    assert (tmp_path / f"gauge_livesum_{second_pid}.db").exists()
    assert scraped_value(run(scraper), "musicbud_http_requests_total", **labels) == 4.0
