"""User and catalogue changes reach Neo4j through the outbox: versioned node rows, applied
idempotently, deletions DETACH DELETE, an older edge row never undoes them, and Neo4j being
down loses nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import update_last_login
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.models import NodeVersion, OutboxOperation, ProjectionOutbox
from graph.projection import outbox_row_apply, projection_apply, projection_wait
from graph.rebuild import graph_rebuild
from musicbud.models import ItemKind, Relation, TasteEdge, User
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory
from tests.graph.test_projection import graph_rows

NODE_ROWS = (
    OutboxOperation.USER_UPSERT,
    OutboxOperation.USER_DELETE,
    OutboxOperation.ITEM_UPSERT,
    OutboxOperation.ITEM_DELETE,
)


def node_rows() -> list[tuple[str, int, str, bool | None, str]]:
    return [
        (row.operation, row.version, row.username, row.user_is_active, row.item_name)
        for row in ProjectionOutbox.objects.filter(operation__in=NODE_ROWS).order_by("id")
    ]


def user_in_graph(user: User) -> list[dict[str, object]]:
    return graph_rows(
        "MATCH (u:User {public_id: $u}) RETURN u.username AS username, "
        "u.display_name AS display_name, u.is_active AS active",
        u=str(user.public_id),
    )


@pytest.mark.django_db
def test_user_changes_queue_versioned_node_rows() -> None:
    user = UserFactory.create(username="nina", display_name="Nina")
    update_last_login(User, user)  # a login: nothing the graph holds changed
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.username = "nina2"
    user.save()
    pk = user.pk
    user.delete()

    assert node_rows() == [
        (OutboxOperation.USER_UPSERT, 1, "nina", True, ""),
        (OutboxOperation.USER_UPSERT, 2, "nina", False, ""),
        (OutboxOperation.USER_UPSERT, 3, "nina2", False, ""),
        (OutboxOperation.USER_DELETE, 4, "nina2", False, ""),
    ]
    assert NodeVersion.objects.get(kind="user", node_id=pk).version == 4


@pytest.mark.django_db
def test_item_renames_and_deletions_queue_node_rows() -> None:
    track = TrackFactory.create(name="Old Name")  # reaches the graph with its first edge
    track.save(update_fields=["duration_ms"])
    track.name = "New Name"
    track.save()
    track.delete()

    assert node_rows() == [
        (OutboxOperation.ITEM_UPSERT, 1, "", None, "New Name"),
        (OutboxOperation.ITEM_DELETE, 2, "", None, "New Name"),
    ]
    assert set(ProjectionOutbox.objects.values_list("kind", flat=True)) == {ItemKind.TRACK}


@pytest.mark.django_db
def test_deactivation_and_rename_reach_the_graph_once(neo4j_graph: str) -> None:
    user, track = UserFactory.create(username="olga"), TrackFactory.create(name="Before")
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    user.is_active = False
    user.display_name = "Olga K"
    user.save()
    track.name = "After"
    track.save()

    report = projection_apply()

    # The user's first row is superseded by the second; the like and the rename apply.
    assert (report.applied, report.skipped) == (3, 1)

    assert user_in_graph(user) == [{"username": "olga", "display_name": "Olga K", "active": False}]
    assert graph_rows("MATCH (t:Track) RETURN t.name AS name") == [{"name": "After"}]
    # Applying a row again, or the older edge row after the rename, changes nothing.
    rename = ProjectionOutbox.objects.get(operation=OutboxOperation.ITEM_UPSERT)
    like = ProjectionOutbox.objects.get(operation=OutboxOperation.UPSERT)
    assert outbox_row_apply(rename) is False
    assert outbox_row_apply(like) is False
    assert graph_rows("MATCH (t:Track) RETURN t.name AS name") == [{"name": "After"}]


@pytest.mark.django_db
def test_an_older_edge_row_does_not_undo_a_rename(neo4j_graph: str) -> None:
    user, track = UserFactory.create(), TrackFactory.create(name="Before")
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    track.name = "After"
    track.save()
    rename = ProjectionOutbox.objects.get(operation=OutboxOperation.ITEM_UPSERT)
    like = ProjectionOutbox.objects.get(operation=OutboxOperation.UPSERT)

    assert outbox_row_apply(rename) is True
    assert outbox_row_apply(like) is True

    assert graph_rows("MATCH (t:Track) RETURN t.name AS name") == [{"name": "After"}]


@pytest.mark.django_db
def test_deleted_users_and_items_leave_the_graph_and_stay_gone(neo4j_graph: str) -> None:
    ann, ben = UserFactory.create_batch(2)
    kept, dropped = TrackFactory.create_batch(2)
    for user in (ann, ben):
        for track in (kept, dropped):
            taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    projection_apply()
    ben.delete()
    dropped.delete()
    late = ProjectionOutbox.objects.filter(operation=OutboxOperation.UPSERT).order_by("id")

    assert projection_apply().applied == 2
    # Edge rows applied late (a retry after the deletions) do not bring them back.
    assert [outbox_row_apply(row) for row in late] == [False, False, False, False]

    assert graph_rows("MATCH (u:User) RETURN u.public_id AS id") == [{"id": str(ann.public_id)}]
    assert graph_rows("MATCH (t:Track) RETURN t.public_id AS id") == [{"id": str(kept.public_id)}]
    assert graph_rows("MATCH ()-[r:LIKES]->() RETURN count(r) AS n") == [{"n": 1}]
    assert TasteEdge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_neo4j_down_a_deactivation_commits_and_stays_queued(dead_bolt_url: str) -> None:
    user = UserFactory.create()
    projection_wait()

    user.is_active = False
    user.save()
    projection_wait()

    assert User.objects.get(pk=user.pk).is_active is False
    row = ProjectionOutbox.objects.filter(operation=OutboxOperation.USER_UPSERT).latest("id")
    assert (row.version, row.user_is_active, row.applied_at, row.attempts) == (2, False, None, 1)
    assert row.last_error.startswith("ServiceUnavailable")


@pytest.mark.django_db
def test_an_edge_row_pending_across_a_rebuild_does_not_revive_a_deleted_user(
    neo4j_graph: str, settings: SettingsWrapper
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    settings.NEO4J_URL = None
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    user.delete()
    settings.NEO4J_URL = neo4j_graph

    graph_rebuild(batch_size=10)
    report = projection_apply()

    # Skipped: the user's creation (superseded by the deletion) and the like (its user is
    # gone); applied: the deletion.
    assert (report.applied, report.skipped) == (1, 2)
    assert graph_rows("MATCH (u:User) RETURN count(u) AS n") == [{"n": 0}]
    assert graph_rows("MATCH (t:Track) RETURN t.public_id AS id") == [{"id": str(track.public_id)}]
