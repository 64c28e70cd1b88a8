"""The projection reads back through the neomodel classes (labels, keys, relationship types
and the epoch-seconds times neomodel's DateTimeProperty expects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from neomodel import adb
from neomodel.async_.relationship_manager import AsyncRelationshipManager

from graph.connection import async_driver
from graph.nodes import TrackNode, UserNode
from graph.projection import projection_apply
from musicbud.models import ItemKind, Relation, TasteEdge
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def neomodel_connection(neo4j_graph: str) -> AsyncIterator[None]:
    await adb.set_connection(driver=async_driver())
    yield
    await adb.close_connection()


@sync_to_async
def projected_taste() -> tuple[str, str, TasteEdge]:
    # Written unprojected, then applied here: no background projector races these writes.
    url, settings.NEO4J_URL = settings.NEO4J_URL, None
    user = UserFactory.create(username="miles")
    track = TrackFactory.create(name="So What")
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.TOP, rank=2)
    settings.NEO4J_URL = url
    projection_apply()
    return str(user.public_id), str(track.public_id), TasteEdge.objects.get(relation="like")


async def test_projected_edges_inflate_as_neomodel_objects(neomodel_connection: None) -> None:
    user_id, track_id, like = await projected_taste()

    user = await UserNode.nodes.get(public_id=user_id)
    track = await TrackNode.nodes.get(public_id=track_id)
    # On an instance the class's relationship definitions are managers (untyped in neomodel).
    likes = cast(AsyncRelationshipManager, user.likes_tracks)
    tops = cast(AsyncRelationshipManager, user.top_tracks)
    liked = await likes.relationship(track)
    top = await tops.relationship(track)

    assert (user.username, track.name) == ("miles", "So What")
    assert liked.at == like.updated_at
    assert (liked.version, top.rank, top.version) == (1, 2, 1)
    assert [t.name for t in await likes.all()] == ["So What"]
