"""The Neo4j graph backend: the same integer facts as the SQL backend, gathered with Cypher over
the projection through the async driver (the cells' user counts from their relational row) and
scored by ``graph.scoring``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from graph.compatibility import PairFacts
from graph.connection import cypher_read
from graph.labels import KIND_FOR_LABEL, LABEL_FOR_KIND, TYPE_FOR_RELATION
from graph.models import CellPopulation
from graph.scoring import (
    BUDS_PER_RECOMMENDATION,
    Candidate,
    Cell,
    Scored,
    ScoredPage,
    TasteFacts,
    build_bud,
    candidate_scores,
    cells_for,
    item_bud_score,
    item_ids_by_kind,
    item_key,
    recommendation_scores,
    round_score,
    sort_shared,
    top_scored,
)
from graph.types import BudPage, BudSource, ItemRef, Recommendation, SharedItem
from musicbud.models import Relation

RELATION_FOR_TYPE = {rel_type: relation for relation, rel_type in TYPE_FOR_RELATION.items()}


def _cell(rel_type: str, labels: list[str]) -> Cell | None:
    kinds = [KIND_FOR_LABEL[label] for label in labels if label in KIND_FOR_LABEL]
    if not kinds or rel_type not in RELATION_FOR_TYPE:
        return None
    return (RELATION_FOR_TYPE[rel_type], kinds[0])


def _active(profile: dict[str, Any]) -> bool:
    # Projected before the flag existed (no user row applied yet): active, as on creation.
    return profile.get("is_active") is not False


def _types(cells: list[Cell]) -> list[str]:
    return sorted({TYPE_FOR_RELATION[relation] for relation, _ in cells})


async def _sizes(*, user_ids: Iterable[int], cells: list[Cell]) -> dict[tuple[int, Cell], int]:
    rows = await cypher_read(
        "MATCH (u:User)-[r]->(i) WHERE u.sql_id IN $users AND type(r) IN $types "
        "RETURN u.sql_id AS user, type(r) AS rel, labels(i) AS labels, count(r) AS n",
        {"users": list(user_ids), "types": _types(cells)},
    )
    wanted = set(cells)
    sizes: dict[tuple[int, Cell], int] = {}
    for row in rows:
        cell = _cell(row["rel"], row["labels"])
        if cell in wanted and cell is not None:
            key = (int(row["user"]), cell)
            sizes[key] = sizes.get(key, 0) + int(row["n"])
    return sizes


async def _cell_users(cells: list[Cell]) -> dict[Cell, int]:
    """Each cell's user count, from the row the taste services keep exact (the SQL backend
    reads the same): counting it in Cypher walked every edge of the cell's type per query."""
    wanted = set(cells)
    rows = CellPopulation.objects.filter(
        relation__in={relation for relation, _ in cells}, kind__in={kind for _, kind in cells}
    ).values_list("relation", "kind", "users")
    return {
        (relation, kind): int(count)
        async for relation, kind, count in rows
        if (relation, kind) in wanted
    }


async def _facts(
    *, user_id: int, cells: list[Cell]
) -> tuple[TasteFacts, list[tuple[int, Cell, int]], dict[int, dict[str, Any]], dict[str, ItemRef]]:
    """The facts, every (other user, cell, item) hit on my items, the others' profiles and my
    items' references.

    My items and their holders come from one query, so they are one snapshot: an edge
    projected meanwhile is either in both or in neither (two reads disagreed under concurrent
    writes). The other counts (others' library sizes, users per cell) are read after it and
    can only be a projection step apart; they shift a score for that moment, never fail it.
    """
    wanted = set(cells)
    rows = await cypher_read(
        "MATCH (me:User {sql_id: $me})-[r]->(i) WHERE type(r) IN $types "
        "OPTIONAL MATCH (i)<-[r2]-(v:User) WHERE type(r2) = type(r) AND v.sql_id <> $me "
        "RETURN type(r) AS rel, labels(i) AS labels, i.sql_id AS item, "
        "i.public_id AS item_public_id, i.name AS item_name, "
        "v.sql_id AS user, v.public_id AS public_id, v.username AS username, "
        "v.display_name AS display_name, v.is_active AS is_active",
        {"me": user_id, "types": _types(cells)},
    )
    my_items: dict[Cell, set[int]] = defaultdict(set)
    df: dict[tuple[Cell, int], int] = {}
    hits: list[tuple[int, Cell, int]] = []
    profiles: dict[int, dict[str, Any]] = {}
    refs: dict[str, ItemRef] = {}
    for row in rows:
        cell = _cell(row["rel"], row["labels"])
        if cell not in wanted or cell is None:
            continue
        item = int(row["item"])
        if item not in my_items[cell]:
            my_items[cell].add(item)
            df[(cell, item)] = 1
            refs[f"{cell[1]}:{item}"] = ItemRef(
                kind=cell[1], public_id=UUID(row["item_public_id"]), name=row["item_name"]
            )
        if row["user"] is None:  # nobody else holds it
            continue
        df[(cell, item)] += 1
        hits.append((int(row["user"]), cell, item))
        profiles[int(row["user"])] = row
    users = await _cell_users(cells)
    sizes = await _sizes(user_ids=profiles, cells=cells)
    # My own sizes from the same snapshot as my items.
    sizes.update({(user_id, cell): len(items) for cell, items in my_items.items()})
    facts = TasteFacts(
        cells=cells,
        my_items={cell: sorted(items) for cell, items in my_items.items()},
        df=df,
        users=users,
        sizes=sizes,
        me=user_id,
    )
    return facts, hits, profiles, refs


async def _item_refs(keys: Iterable[str]) -> dict[str, ItemRef]:
    refs: dict[str, ItemRef] = {}
    for kind, ids in item_ids_by_kind(keys).items():
        rows = await cypher_read(
            f"MATCH (i:{LABEL_FOR_KIND[kind]}) WHERE i.sql_id IN $ids "
            "RETURN i.sql_id AS pk, i.public_id AS public_id, i.name AS name",
            {"ids": ids},
        )
        for row in rows:
            refs[item_key(kind, row["pk"])] = ItemRef(
                kind=kind, public_id=UUID(row["public_id"]), name=row["name"]
            )
    return refs


def _named(profiles: dict[int, dict[str, Any]], page: list[Scored]) -> list[Candidate]:
    return [
        Candidate(
            user,
            public_id,
            profiles[user]["username"],
            profiles[user]["display_name"] or "",
            score,
        )
        for score, public_id, user in page
    ]


def _ranked(
    facts: TasteFacts,
    hits: list[tuple[int, Cell, int]],
    profiles: dict[int, dict[str, Any]],
    *,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int],
) -> tuple[list[Candidate], ScoredPage]:
    page = top_scored(
        (
            (user, UUID(profiles[user]["public_id"]), score)
            for user, score in candidate_scores(facts, hits).items()
            # Inactive users still count in the statistics (as in SQL) but are never buds;
            # the people the viewer may not find are left out before the page is cut.
            if _active(profiles[user]) and user not in hidden
        ),
        limit=limit,
        cursor=cursor,
    )
    return _named(profiles, page.rows), page


async def buds_for_user(
    *,
    user_id: int,
    kind: str | None,
    source: BudSource,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    facts, hits, profiles, refs = await _facts(
        user_id=user_id, cells=cells_for(source=source, kind=kind)
    )
    page, ranked = _ranked(facts, hits, profiles, limit=limit, cursor=cursor, hidden=hidden)
    on_page = {candidate.user_id for candidate in page}
    shared: dict[int, list[tuple[Cell, int]]] = defaultdict(list)
    for user, cell, item in hits:
        if user in on_page:
            shared[user].append((cell, item))
    weights = {user: facts.shared_weights(other=user, shared=shared[user]) for user in on_page}
    return BudPage(
        buds=[build_bud(c, shared=weights[c.user_id], items=refs) for c in page],
        next_cursor=ranked.next_cursor,
        previous_cursor=ranked.previous_cursor,
    )


async def bud_count(
    *, user_id: int, kind: str | None, source: BudSource, hidden: frozenset[int] = frozenset()
) -> int:
    facts, hits, profiles, _ = await _facts(
        user_id=user_id, cells=cells_for(source=source, kind=kind)
    )
    # What _ranked pages through (top_scored keeps the scores above 0).
    return sum(
        1
        for user, score in candidate_scores(facts, hits).items()
        if score > 0 and _active(profiles[user]) and user not in hidden
    )


async def common_items(
    *, user_id: int, other_id: int, kind: str | None, source: BudSource
) -> list[SharedItem]:
    facts, hits, _, refs = await _facts(user_id=user_id, cells=cells_for(source=source, kind=kind))
    shared = [(cell, item) for user, cell, item in hits if user == other_id]
    weights = facts.shared_weights(other=other_id, shared=shared)
    return sort_shared(SharedItem(item=refs[key], weight=w) for key, w in weights.items())


async def buds_for_item(
    *,
    kind: str,
    item_id: int,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    label = LABEL_FOR_KIND[kind]
    rows = await cypher_read(
        f"MATCH (u:User)-[r]->(i:{label} {{sql_id: $item}}) WHERE type(r) IN $types "
        "RETURN u.sql_id AS user, u.public_id AS public_id, u.username AS username, "
        "u.display_name AS display_name, u.is_active AS is_active, type(r) AS rel",
        {"item": item_id, "types": sorted(TYPE_FOR_RELATION.values())},
    )
    holders: dict[int, list[str]] = defaultdict(list)
    profiles: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not _active(row) or int(row["user"]) in hidden:
            continue
        holders[int(row["user"])].append(RELATION_FOR_TYPE[row["rel"]])
        profiles[int(row["user"])] = row
    if not holders:
        return BudPage(buds=[], next_cursor=None, previous_cursor=None)
    cells = [(relation, kind) for relation in Relation.values]
    sizes = await _sizes(user_ids=holders, cells=cells)
    scored = top_scored(
        (
            (
                user,
                UUID(profiles[user]["public_id"]),
                item_bud_score(
                    relations=rels,
                    # A holder's size is at least 1; a projection step between the
                    # two reads must not divide by 0.
                    sizes={relation: sizes.get((user, (relation, kind))) or 1 for relation in rels},
                ),
            )
            for user, rels in holders.items()
        ),
        limit=limit,
        cursor=cursor,
    )
    page = _named(profiles, scored.rows)
    key = item_key(kind, item_id)
    refs = await _item_refs([key])
    if key not in refs:  # deleted since the first read
        return BudPage(buds=[], next_cursor=None, previous_cursor=None)
    return BudPage(
        buds=[build_bud(c, shared={key: c.score}, items=refs) for c in page],
        next_cursor=scored.next_cursor,
        previous_cursor=scored.previous_cursor,
    )


async def item_bud_count(
    *, kind: str, item_id: int, exclude_user_id: int | None, hidden: frozenset[int] = frozenset()
) -> int:
    rows = await cypher_read(
        f"MATCH (u:User)-[r]->(i:{LABEL_FOR_KIND[kind]} {{sql_id: $item}}) "
        "WHERE type(r) IN $types "
        "RETURN DISTINCT u.sql_id AS user, u.is_active AS is_active",
        {"item": item_id, "types": sorted(TYPE_FOR_RELATION.values())},
    )
    # What buds_for_item pages through: every active holder (each scores above 0).
    return sum(
        1
        for row in rows
        if _active(row) and row["user"] != exclude_user_id and int(row["user"]) not in hidden
    )


async def recommendations(
    *, user_id: int, kind: str, limit: int, hidden: frozenset[int] = frozenset()
) -> list[Recommendation]:
    facts, hits, profiles, _ = await _facts(
        user_id=user_id, cells=cells_for(source=BudSource.ALL, kind=None)
    )
    top, _ = _ranked(
        facts, hits, profiles, limit=BUDS_PER_RECOMMENDATION, cursor=None, hidden=hidden
    )
    buds = {c.user_id: c.score for c in top}
    if not buds:
        return []
    rows = await cypher_read(
        f"MATCH (b:User)-[r]->(i:{LABEL_FOR_KIND[kind]}) "
        "WHERE b.sql_id IN $buds AND type(r) IN $types "
        "AND NOT EXISTS { MATCH (me:User {sql_id: $me})-[r2]->(i) WHERE type(r2) IN $types } "
        "RETURN b.sql_id AS bud, i.sql_id AS item",
        {"buds": list(buds), "me": user_id, "types": sorted(TYPE_FOR_RELATION.values())},
    )
    totals = recommendation_scores(
        bud_scores=buds, holders=((int(row["bud"]), item_key(kind, row["item"])) for row in rows)
    )
    refs = await _item_refs(totals)
    ranked = sorted(
        (
            Recommendation(item=refs[key], score=round_score(t.score), liked_by=t.liked_by)
            for key, t in totals.items()
            if key in refs  # not deleted since the first read
        ),
        key=lambda r: (-r.score, r.item.name, r.item.public_id),
    )
    return ranked[: max(1, limit)]


async def pair_facts(
    *, user_ids: Sequence[int], cells: list[Cell], to_name: Callable[[PairFacts], set[str]]
) -> tuple[PairFacts, dict[str, ItemRef]]:
    rows = await cypher_read(
        "MATCH (u:User)-[r]->(i) WHERE u.sql_id IN $users AND type(r) IN $types "
        "OPTIONAL MATCH (i)<-[r2]-(v:User) WHERE type(r2) = type(r) "
        "RETURN u.sql_id AS user, type(r) AS rel, labels(i) AS labels, i.sql_id AS item, "
        "count(v) AS df",
        {"users": list(user_ids), "types": _types(cells)},
    )
    wanted = set(cells)
    libraries: dict[int, dict[Cell, set[int]]] = {int(user): {} for user in user_ids}
    df: dict[tuple[Cell, int], int] = {}
    for row in rows:
        cell = _cell(row["rel"], row["labels"])
        if cell not in wanted or cell is None:
            continue
        item = int(row["item"])
        libraries[int(row["user"])].setdefault(cell, set()).add(item)
        df[(cell, item)] = int(row["df"])
    facts = PairFacts(libraries=libraries, df=df, users=await _cell_users(cells))
    return facts, await _item_refs(to_name(facts))
