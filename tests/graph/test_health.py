"""Readiness reports the graph: projection lag always, and a real round trip to Neo4j."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from graph.models import ProjectionOutbox
from musicbud.models import ItemKind, Relation
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory


@pytest.mark.django_db
def test_ready_reports_projection_lag_when_the_projection_is_on(client: Client) -> None:
    user = UserFactory.create()
    for track in TrackFactory.create_batch(2):
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    ProjectionOutbox.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.OK
    graph = response.json()["components"]["graph"]
    assert graph["status"] == "up"
    assert graph["backend"] == "sql"
    assert "neo4j" not in graph
    assert 300 <= graph["projection"]["oldest_age_seconds"] < 330


@pytest.mark.django_db
def test_ready_without_pending_rows_reports_no_age(client: Client) -> None:
    response = client.get(reverse("health-ready"))

    graph = response.json()["components"]["graph"]
    assert graph["projection"] == {"oldest_age_seconds": None}


@pytest.mark.django_db
def test_ready_round_trips_to_a_configured_neo4j(client: Client, neo4j_graph: str) -> None:
    response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["components"]["graph"]["neo4j"] == "up"


@pytest.mark.django_db
def test_ready_is_unavailable_when_the_configured_neo4j_is_down(
    client: Client, dead_bolt_url: str
) -> None:
    response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    # The error envelope carries readiness's own component report as its details.
    body = response.json()["details"]
    assert body["status"] == "unavailable"
    assert body["components"]["graph"]["status"] == "down"
    assert body["components"]["graph"]["error"] == "ServiceUnavailable"
    # The lag is still reported while Neo4j is down.
    assert body["components"]["graph"]["projection"] == {"oldest_age_seconds": None}
    assert body["components"]["database"]["status"] == "up"
