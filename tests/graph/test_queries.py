"""graph/queries.py: the formula on a case worked by hand, input checks, and the SQL fallback."""

from __future__ import annotations

import math

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from graph import queries
from graph.models import CellPopulation, ItemPopularity, ProjectionOutbox
from graph.types import BudSource
from musicbud.errors import InvalidCursor, InvalidInput, ServiceUnavailable
from musicbud.models import ItemKind, Relation, User
from musicbud.services.taste import taste_edge_set
from tests.factories import TrackFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def small_world() -> dict[str, User]:
    """Everyone likes "pop"; only a and b like "niche"; d also likes something nobody else does."""
    users = {name: UserFactory.create(username=name) for name in ("a", "b", "c", "d")}
    pop, niche, own = TrackFactory.create_batch(3)
    for name in "abcd":
        taste_edge_set(user=users[name], kind=ItemKind.TRACK, item=pop, relation=Relation.LIKE)
    for name in "ab":
        taste_edge_set(user=users[name], kind=ItemKind.TRACK, item=niche, relation=Relation.LIKE)
    taste_edge_set(user=users["d"], kind=ItemKind.TRACK, item=own, relation=Relation.LIKE)
    return users


async def test_scores_follow_the_documented_formula() -> None:
    users = await small_world()

    page = await queries.buds_for_user(
        user_id=users["a"].pk, kind="track", source=BudSource.LIKES, limit=10, cursor=None
    )

    # An item weighs 1 / (its holders other than me): the hit 1/3 (b, c and d have it), the
    # niche song 1 (only b); each sum is divided by sqrt(|mine| * |theirs|).
    assert [(b.username, b.shared_count) for b in page.buds] == [("b", 2), ("c", 1), ("d", 1)]
    assert [b.score for b in page.buds] == pytest.approx(
        [(1 / 3 + 1) / 2, (1 / 3) / math.sqrt(2), (1 / 3) / 2], abs=1e-9
    )
    # The niche song explains more of the match than the hit everybody likes.
    assert [s.weight for s in page.buds[0].top_shared] == pytest.approx([1 / 2, 1 / 6], abs=1e-9)


async def test_inactive_users_are_never_buds() -> None:
    users = await small_world()
    users["b"].is_active = False
    await users["b"].asave(update_fields=["is_active"])

    page = await queries.buds_for_user(
        user_id=users["a"].pk, kind=None, source=BudSource.ALL, limit=10, cursor=None
    )

    assert [b.username for b in page.buds] == ["c", "d"]


async def test_a_user_without_taste_has_no_buds() -> None:
    await small_world()
    loner = await sync_to_async(UserFactory.create)()

    page = await queries.buds_for_user(
        user_id=loner.pk, kind=None, source=BudSource.ALL, limit=10, cursor=None
    )

    assert page.buds == []
    assert page.next_cursor is None


async def test_unknown_kind_and_source_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="kind must be one of"):
        await queries.buds_for_user(
            user_id=1, kind="podcast", source=BudSource.ALL, limit=10, cursor=None
        )
    with pytest.raises(InvalidInput, match="source must be one of"):
        await queries.buds_for_user(
            user_id=1,
            kind=None,
            source="friends",  # type: ignore[arg-type]
            limit=10,
            cursor=None,
        )
    with pytest.raises(InvalidInput, match="kind must be one of"):
        await queries.recommendations(user_id=1, kind="podcast", limit=5)


async def test_a_tampered_cursor_is_invalid_cursor() -> None:
    users = await small_world()

    with pytest.raises(InvalidCursor, match=r"^Invalid cursor$"):
        await queries.buds_for_user(
            user_id=users["a"].pk, kind=None, source=BudSource.ALL, limit=1, cursor="not-ours"
        )


async def neo4j_goes_down(
    request: pytest.FixtureRequest, settings: SettingsWrapper, *, fallback: bool
) -> None:
    """Neo4j becomes the graph store and goes down, after the writes: their background
    projection would race the test's own writes on SQLite's shared in-memory test database.
    The rows count as projected (else the user's own pending writes are answered from SQL
    anyway)."""
    await ProjectionOutbox.objects.aupdate(applied_at=timezone.now())
    request.getfixturevalue("dead_bolt_url")
    settings.GRAPH_BACKEND = "neo4j"
    settings.GRAPH_FALLBACK_TO_SQL = fallback


async def test_neo4j_down_falls_back_to_sql(
    settings: SettingsWrapper, request: pytest.FixtureRequest
) -> None:
    users = await small_world()
    await neo4j_goes_down(request, settings, fallback=True)

    page = await queries.buds_for_user(
        user_id=users["a"].pk, kind=None, source=BudSource.LIKES, limit=10, cursor=None
    )

    assert [b.username for b in page.buds] == ["b", "c", "d"]


async def test_neo4j_down_without_fallback_is_service_unavailable(
    settings: SettingsWrapper, request: pytest.FixtureRequest
) -> None:
    users = await small_world()
    await neo4j_goes_down(request, settings, fallback=False)

    with pytest.raises(ServiceUnavailable, match="graph store is unavailable"):
        await queries.recommendations(user_id=users["a"].pk, kind="track", limit=5)


async def test_missing_statistics_degrade_scores_but_never_fail() -> None:
    users = await small_world()
    # As after a bulk load that bypassed the services, before graph_refresh_stats.
    await ItemPopularity.objects.all().adelete()
    await CellPopulation.objects.all().adelete()

    page = await queries.buds_for_user(
        user_id=users["a"].pk, kind=None, source=BudSource.LIKES, limit=10, cursor=None
    )
    shared = await queries.common_items(user_id=users["a"].pk, other_id=users["b"].pk, kind=None)

    # Every item then looks unique (weight 1): b shares two, c and d one each.
    assert [b.username for b in page.buds] == ["b", "c", "d"]
    assert page.buds[0].score == pytest.approx(2 / 2, abs=1e-9)
    assert [s.weight for s in shared] == pytest.approx([0.5, 0.5], abs=1e-9)


@sync_to_async
def tied_world() -> tuple[User, list[User]]:
    """Twelve people share my one song (a tie), four of them inactive; two more also share a
    second song (ahead of the tie)."""
    me = UserFactory.create(username="me")
    song, other = TrackFactory.create_batch(2)
    others = UserFactory.create_batch(14)
    for user in [me, *others]:
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=song, relation=Relation.LIKE)
    for user in [me, *others[:2]]:
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=other, relation=Relation.LIKE)
    for user in others[2:6]:
        user.is_active = False
        user.save()
    return me, others


async def test_pages_over_ties_and_inactive_users_follow_score_then_public_id() -> None:
    me, others = await tied_world()
    ahead = sorted(others[:2], key=lambda u: u.public_id)
    tied = sorted(others[6:], key=lambda u: u.public_id)

    walked: list[str] = []
    cursor = None
    while True:
        page = await queries.buds_for_user(
            user_id=me.pk, kind=None, source=BudSource.LIKES, limit=3, cursor=cursor
        )
        walked.extend(b.username for b in page.buds)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert walked == [u.username for u in ahead + tied]
