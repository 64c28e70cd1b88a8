"""graph_rebuild: the whole projection from the relational DB, in batches, resumable."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.connection import sync_driver
from graph.labels import TYPE_FOR_RELATION
from graph.models import ProjectionOutbox, RebuildCheckpoint
from graph.projection import projection_apply
from graph.rebuild import RebuildProgress, graph_rebuild
from musicbud.models import ItemKind, Relation, TasteEdge
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tests.factories import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory, UserFactory
from tests.graph.taste_world import build_world

pytestmark = pytest.mark.django_db


def graph_rows(query: str) -> list[dict[str, object]]:
    with sync_driver().session() as session:
        return [record.data() for record in session.run(query)]


def taste_in_graph() -> set[tuple[object, ...]]:
    rows = graph_rows(
        "MATCH (u:User)-[r]->(i) WHERE type(r) IN ['LIKES', 'TOP', 'PLAYED'] "
        "RETURN u.public_id AS user, type(r) AS type, i.public_id AS item, "
        "r.rank AS rank, r.count AS count"
    )
    return {(r["user"], r["type"], r["item"], r["rank"], r["count"]) for r in rows}


def taste_in_db() -> set[tuple[object, ...]]:
    return {
        (
            str(edge.user.public_id),
            TYPE_FOR_RELATION[edge.relation],
            str(getattr(edge, edge.kind).public_id),
            edge.rank,
            edge.play_count,
        )
        for edge in TasteEdge.objects.select_related("user", "track", "artist", "album", "genre")
    }


@pytest.fixture
def unprojected_world(settings: SettingsWrapper, neo4j_graph: str) -> None:
    """The taste world and a small catalogue, written on the SQL backend alone (no graph store,
    so no projection and no outbox rows): switching to Neo4j later is graph_rebuild's job."""
    settings.NEO4J_URL = None
    settings.GRAPH_PROJECTION = False
    build_world()
    genre = GenreFactory.create(name="bebop")
    artist = ArtistFactory.create(name="Bird")
    artist.genres.add(genre)
    album = AlbumFactory.create(name="Charlie Parker with Strings")
    track = TrackFactory.create(name="Just Friends", album=album)
    track.artists.add(artist)
    assert not ProjectionOutbox.objects.exists()
    settings.NEO4J_URL = neo4j_graph
    settings.GRAPH_PROJECTION = True


def test_rebuild_projects_users_items_and_taste(unprojected_world: None) -> None:
    out = io.StringIO()

    call_command("graph_rebuild", "--batch-size", "4", stdout=out)

    assert taste_in_graph() == taste_in_db()
    assert len(taste_in_db()) == 37
    assert graph_rows("MATCH (u:User) RETURN count(u) AS n") == [{"n": 6}]
    assert graph_rows("MATCH (t:Track) RETURN count(t) AS n") == [{"n": 7}]
    # The catalogue's own links (credits, albums, genres) are not projected: no query reads them.
    assert graph_rows(
        "MATCH ()-[r]->() WHERE NOT type(r) IN ['LIKES', 'TOP', 'PLAYED'] RETURN count(r) AS n"
    ) == [{"n": 0}]
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("rebuilt: 24 items, 37 edges in ")
    assert lines[0].startswith("users         items 4/24  edges 0/37  ")
    assert not RebuildCheckpoint.objects.exists()


def test_an_interrupted_rebuild_resumes_from_its_checkpoint(unprojected_world: None) -> None:
    seen: list[tuple[str, int, int]] = []

    def stop_after_eight(state: RebuildProgress) -> None:
        seen.append((state.phase, state.items_done, state.edges_done))
        if len(seen) == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        graph_rebuild(batch_size=3, progress=stop_after_eight)

    checkpoint = RebuildCheckpoint.objects.get()
    assert (checkpoint.phase, checkpoint.items_done) == ("track", seen[-1][1])
    resumed: list[tuple[str, int, int]] = []

    result = graph_rebuild(
        batch_size=3, progress=lambda s: resumed.append((s.phase, s.items_done, s.edges_done))
    )

    # The second run starts in the phase the first was stopped in and redoes nothing before.
    assert resumed[0][0] == "track"
    assert "users" not in {phase for phase, _, _ in resumed}
    assert (result.items_done, result.edges_done) == (24, 37)
    assert taste_in_graph() == taste_in_db()
    assert not RebuildCheckpoint.objects.exists()


def test_rebuild_restart_ignores_the_checkpoint(unprojected_world: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        graph_rebuild(batch_size=3, progress=lambda s: (_ for _ in ()).throw(KeyboardInterrupt))
    phases: list[str] = []

    graph_rebuild(batch_size=3, restart=True, progress=lambda s: phases.append(s.phase))

    assert phases[0] == "users"
    assert taste_in_graph() == taste_in_db()


def test_rows_pending_across_a_rebuild_end_in_the_newest_state(
    settings: SettingsWrapper, neo4j_graph: str
) -> None:
    user, track = UserFactory.create(), TrackFactory.create()
    settings.NEO4J_URL = None
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    taste_edge_remove(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    settings.NEO4J_URL = neo4j_graph

    graph_rebuild(batch_size=10)
    report = projection_apply()

    # Applied: the user's node row and the unlike; skipped: the superseded like.
    assert (report.applied, report.skipped) == (2, 1)
    assert not ProjectionOutbox.objects.filter(applied_at__isnull=True).exists()
    assert taste_in_graph() == set()
    assert not TasteEdge.objects.filter(relation=Relation.LIKE).exists()


def test_rebuild_needs_a_graph_store(settings: SettingsWrapper) -> None:
    settings.NEO4J_URL = None

    with pytest.raises(CommandError, match="NEO4J_URL is not set"):
        call_command("graph_rebuild")


def test_a_checkpoint_in_a_retired_phase_resumes_with_the_taste_edges(
    unprojected_world: None,
) -> None:
    # Left by a rebuild interrupted while it still projected the catalogue's links.
    RebuildCheckpoint.objects.create(
        name="projection", phase="performed_by", started_at=timezone.now(), items_done=24
    )
    phases: list[str] = []

    result = graph_rebuild(batch_size=50, progress=lambda s: phases.append(s.phase))

    assert phases == ["taste", "done"]
    assert (result.items_done, result.edges_done) == (24, 37)
    assert not RebuildCheckpoint.objects.exists()
