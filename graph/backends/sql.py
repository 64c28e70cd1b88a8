"""The SQL graph backend: graph queries computed in the relational DB (the embedded default)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.db.models import Q

from graph.compatibility import PairFacts
from graph.models import CellPopulation, ItemPopularity, UserLibrary, library_column
from graph.scoring import (
    BUDS_PER_RECOMMENDATION,
    MAX_LIMIT,
    Candidate,
    Cell,
    ScoredPage,
    TasteFacts,
    build_bud,
    cells_for,
    decode_cursor,
    item_bud_score,
    item_ids_by_kind,
    item_key,
    recommendation_scores,
    round_score,
    sort_shared,
    top_scored,
)
from graph.types import Bud, BudPage, BudSource, ItemRef, Recommendation, SharedItem
from musicbud.kinds import ITEM_ID_COLUMNS, ITEM_MODELS, item_id_sql
from musicbud.models import ItemKind, Relation, TasteEdge, User


def _item_id(row: dict[str, Any]) -> int:
    return int(row[f"{row['kind']}_id"])


def _facts(*, user_id: int, cells: list[Cell], others: Iterable[int] = ()) -> TasteFacts:
    relations = sorted({relation for relation, _ in cells})
    kinds = sorted({kind for _, kind in cells})
    cell_set = set(cells)
    my_items: dict[Cell, list[int]] = defaultdict(list)
    df: dict[tuple[Cell, int], int] = {}
    edges = TasteEdge._meta.db_table
    popularity = ItemPopularity._meta.db_table
    item = item_id_sql("e")
    # My items and their holder counts in one round trip (a unique-index probe per item).
    marks = ", ".join(["%s"] * len(relations)), ", ".join(["%s"] * len(kinds))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.relation, e.kind, {item}, p.holders FROM {edges} e "  # noqa: S608
            f"LEFT JOIN {popularity} p ON p.relation = e.relation AND p.kind = e.kind "
            f"AND p.item_id = {item} "
            f"WHERE e.user_id = %s AND e.relation IN ({marks[0]}) AND e.kind IN ({marks[1]})",
            [user_id, *relations, *kinds],
        )
        rows = cursor.fetchall()
    for relation, kind, item_id, holders in rows:
        cell = (relation, kind)
        if cell in cell_set:
            my_items[cell].append(int(item_id))
            if holders is not None:
                df[(cell, int(item_id))] = int(holders)
    users = {
        (relation, kind): count
        for relation, kind, count in CellPopulation.objects.filter(
            relation__in=relations, kind__in=kinds
        ).values_list("relation", "kind", "users")
    }
    return TasteFacts(
        cells=cells,
        my_items=dict(my_items),
        df=df,
        users=users,
        sizes=_sizes(user_ids=[user_id, *others], cells=cells),
        me=user_id,
    )


def _sizes(*, user_ids: Sequence[int], cells: list[Cell]) -> dict[tuple[int, Cell], int]:
    columns = {library_column(relation, kind): (relation, kind) for relation, kind in cells}
    sizes: dict[tuple[int, Cell], int] = {}
    for row in UserLibrary.objects.filter(user_id__in=user_ids).values("user_id", *columns):
        for column, cell in columns.items():
            if row[column]:
                sizes[(int(row["user_id"]), cell)] = int(row[column])
    return sizes


def _candidate_scores(facts: TasteFacts, *, active_only: bool = False) -> list[tuple[int, float]]:
    """(user id, score) of every other user sharing an item (active or not, or with
    ``active_only`` the active ones), summed in SQL.

    Python computes each of my items' coefficient (cell weight * item weight / sqrt(my size)); the
    database sums them per candidate and cell and divides by sqrt(the candidate's size).
    """
    coefficients = facts.coefficients()
    cells = sorted({cell for cell, _ in coefficients})
    number = {cell: n for n, cell in enumerate(cells)}
    by_kind: dict[str, list[tuple[str, int, int, float]]] = defaultdict(list)
    for ((relation, kind), item_id), coefficient in coefficients.items():
        # Stop items weigh 0: walking their holders could not change any score.
        if coefficient > 0:
            by_kind[kind].append((relation, item_id, number[(relation, kind)], coefficient))
    if not by_kind:
        return []
    edges = TasteEdge._meta.db_table
    ctes: list[str] = []
    parts: list[str] = []
    params: list[Any] = []
    postgres = connection.vendor == "postgresql"
    for kind, rows in sorted(by_kind.items()):
        # Each row carries its cell as a small integer: the sums below compare integers.
        if postgres:
            # Four array parameters: planning does not grow with the user's library, and
            # unnest's row estimate is right, so each scan is a loop of index probes.
            ctes.append(
                f"mine_{kind}(relation, item_id, cell, coef) AS (SELECT * FROM unnest("  # noqa: S608
                "CAST(%s AS varchar(8)[]), CAST(%s AS bigint[]), CAST(%s AS integer[]), "
                "CAST(%s AS double precision[])))"
            )
            params.extend(list(column) for column in zip(*rows, strict=True))
            continue
        # SQLite: one VALUES list per kind, named through a CTE.
        values = ", ".join(
            [
                "(CAST(%s AS varchar(8)), CAST(%s AS bigint), CAST(%s AS integer), "
                "CAST(%s AS double precision))"
            ]
            * len(rows)
        )
        ctes.append(f"mine_{kind}(relation, item_id, cell, coef) AS (VALUES {values})")
        params.extend(itertools.chain.from_iterable(rows))
    for kind in sorted(by_kind):
        # Only indexed columns of e, and the IS NOT NULL of the partial (item, relation, user)
        # index: the scan is index-only.
        parts.append(
            f"SELECT e.user_id, m.cell, m.coef "  # noqa: S608
            f"FROM {edges} e JOIN mine_{kind} m "
            f"ON e.{kind}_id = m.item_id AND e.relation = m.relation "
            f"WHERE e.{kind}_id IS NOT NULL AND e.user_id <> %s"
        )
        params.append(facts.me)
    used = sorted(
        {number[(relation, kind)] for kind, rows in by_kind.items() for relation, _, _, _ in rows}
    )
    # One group per candidate with a sum per cell, then one library row per candidate: the
    # score divides each cell's sum by the square root of the candidate's size in that cell.
    sums = ", ".join(f"SUM(CASE WHEN h.cell = {n} THEN h.coef ELSE 0 END) AS c{n}" for n in used)
    score = " + ".join(
        f"CASE WHEN t.c{n} > 0 THEN t.c{n} / SQRT(l.{library_column(*cells[n])}) ELSE 0 END"
        for n in used
    )
    # Only table and column names, cell numbers and placeholders are interpolated. A page
    # does not join users: only the few candidates it needs are looked up (see _ranked).
    active = ""
    if active_only:
        active = f" JOIN {User._meta.db_table} u ON u.id = t.user_id AND u.is_active = %s"
        params.append(True)
    sql = (
        f"WITH {', '.join(ctes)} "  # noqa: S608
        f"SELECT t.user_id, {score} FROM ("
        f"SELECT h.user_id, {sums} FROM ({' UNION ALL '.join(parts)}) AS h GROUP BY h.user_id"
        f") AS t JOIN {UserLibrary._meta.db_table} l ON l.user_id = t.user_id{active}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # Tens of thousands of index probes, then a hash: parallel workers cost more to
            # start and merge than they save here. The planner expects a few hundred holder
            # rows (unnest's rows times an index estimate) where a large library brings tens
            # of thousands, so it would sort them to group; hashing them is a third cheaper at
            # that size and no dearer at a small one (measured, graph/README.md).
            cursor.execute(
                "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_sort = off"
            )
        cursor.execute(sql, params)
        return [(int(user), float(score)) for user, score in cursor.fetchall()]


def _public_uuid(value: Any) -> UUID:
    # SQLite hands UUID columns back as hex strings, PostgreSQL as UUIDs.
    return value if isinstance(value, UUID) else UUID(str(value))


Profile = tuple[UUID, str, str]
# A row's place in a ranking: (minus its score, its public id), smallest first.
Key = tuple[float, UUID]


def _ranked(
    facts: TasteFacts, *, limit: int, cursor: str | None, hidden: frozenset[int]
) -> tuple[ScoredPage, dict[int, Profile]]:
    """One page of active buds, and their (public id, username, display name).

    Thousands of users may score; the page needs the best few. Candidates are walked away from
    the cursor (down the scores reading forward, up them reading backward) and looked up in
    growing chunks, each ending on a score boundary, until enough active users on the page's
    side of the cursor are confirmed: everything not looked up lies further away, so the page
    equals ranking every candidate by (score, public id). A forward page past the first also
    confirms one active user before it, if there is one: its previous link depends on it.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    position = decode_cursor(cursor) if cursor else None
    candidates = [
        (rounded, user)
        for user, score in _candidate_scores(facts)
        # The people the viewer may not find are left out before the page is cut.
        if user not in hidden and (rounded := round_score(score)) > 0
    ]
    found: list[tuple[int, UUID, float]] = []
    profiles: dict[int, Profile] = {}

    def walk(ordered: list[tuple[float, int]], keep: Callable[[Key], bool], enough: int) -> None:
        """Look up ``ordered`` (by score, away from the cursor) chunk by chunk until
        ``enough`` active users ``keep`` takes (by their key) are found."""
        kept, start, chunk = 0, 0, limit + 1
        while start < len(ordered) and kept < enough:
            end = min(start + chunk, len(ordered))
            while end < len(ordered) and ordered[end][0] == ordered[end - 1][0]:
                end += 1
            batch = ordered[start:end]
            missing = [user for _, user in batch if user not in profiles]
            rows = User.objects.filter(pk__in=missing, is_active=True)
            for pk, public_id, username, display_name in rows.values_list(
                "pk", "public_id", "username", "display_name"
            ):
                profiles[int(pk)] = (_public_uuid(public_id), username, display_name)
            for score, user in batch:
                profile = profiles.get(user)
                if profile and keep((-score, profile[0])):
                    found.append((user, profile[0], score))
                    kept += 1
            start, chunk = end, chunk * 2

    def down(rows: Iterable[tuple[float, int]]) -> list[tuple[float, int]]:
        return sorted(rows, key=lambda row: -row[0])

    def up(rows: Iterable[tuple[float, int]]) -> list[tuple[float, int]]:
        return sorted(rows, key=lambda row: row[0])

    if position is None:
        walk(down(candidates), lambda key: True, limit + 1)
    else:
        at, score = position.key, position.score
        before = up(row for row in candidates if row[0] >= score)
        if position.backward:
            walk(before, lambda key: key < at, limit + 1)
        else:
            after = down(row for row in candidates if row[0] <= score)
            walk(after, lambda key: key > at, limit + 1)
            walk(before, lambda key: key <= at, 1)
    return top_scored(found, limit=limit, cursor=cursor), profiles


def _bud_count(*, user_id: int, kind: str | None, source: BudSource, hidden: frozenset[int]) -> int:
    # What _ranked pages through: active visible candidates whose rounded score is positive.
    facts = _facts(user_id=user_id, cells=cells_for(source=source, kind=kind))
    scores = _candidate_scores(facts, active_only=True)
    return sum(1 for user, score in scores if user not in hidden and round_score(score) > 0)


async def bud_count(
    *, user_id: int, kind: str | None, source: BudSource, hidden: frozenset[int] = frozenset()
) -> int:
    return await sync_to_async(_bud_count)(user_id=user_id, kind=kind, source=source, hidden=hidden)


def _item_refs(keys: Iterable[str]) -> dict[str, ItemRef]:
    refs: dict[str, ItemRef] = {}
    for kind, ids in item_ids_by_kind(keys).items():
        for pk, public_id, name in (
            ITEM_MODELS[kind]
            ._default_manager.filter(pk__in=ids)
            .values_list("pk", "public_id", "name")
        ):
            refs[item_key(kind, pk)] = ItemRef(kind=kind, public_id=public_id, name=name)
    return refs


def _shared_rows(
    *, facts: TasteFacts, other_ids: Sequence[int]
) -> dict[int, list[tuple[Cell, int]]]:
    """For each other user, the (cell, item id) pairs they share with me (one query)."""
    result: dict[int, list[tuple[Cell, int]]] = defaultdict(list)
    shared = Q()
    for (relation, kind), items in facts.my_items.items():
        shared |= Q(relation=relation, kind=kind, **{f"{kind}_id__in": items})
    if not shared:
        return result
    rows = TasteEdge.objects.filter(shared, user_id__in=other_ids).values(
        "user_id", "relation", "kind", *ITEM_ID_COLUMNS
    )
    for row in rows:
        result[int(row["user_id"])].append(((row["relation"], row["kind"]), _item_id(row)))
    return result


def _buds_for_user(
    *,
    user_id: int,
    kind: str | None,
    source: BudSource,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int],
) -> BudPage:
    cells = cells_for(source=source, kind=kind)
    facts = _facts(user_id=user_id, cells=cells)
    ranked, profiles = _ranked(facts, limit=limit, cursor=cursor, hidden=hidden)
    page = ranked.rows
    if not page:
        return BudPage(buds=[], next_cursor=None, previous_cursor=None)
    ids = [user for _, _, user in page]
    facts = TasteFacts(
        cells=facts.cells,
        my_items=facts.my_items,
        df=facts.df,
        users=facts.users,
        sizes={**facts.sizes, **_sizes(user_ids=ids, cells=cells)},
        me=user_id,
    )
    shared = _shared_rows(facts=facts, other_ids=ids)
    weights = {user: facts.shared_weights(other=user, shared=shared[user]) for user in ids}
    refs = _item_refs(key for w in weights.values() for key in w)
    buds: list[Bud] = []
    for score, public_id, user in page:
        _, username, display_name = profiles[user]
        named = Candidate(user, public_id, username, display_name, score)
        buds.append(build_bud(named, shared=weights[user], items=refs))
    return BudPage(
        buds=buds, next_cursor=ranked.next_cursor, previous_cursor=ranked.previous_cursor
    )


async def buds_for_user(
    *,
    user_id: int,
    kind: str | None,
    source: BudSource,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    return await sync_to_async(_buds_for_user)(
        user_id=user_id, kind=kind, source=source, limit=limit, cursor=cursor, hidden=hidden
    )


def _common_items(
    *, user_id: int, other_id: int, kind: str | None, source: BudSource
) -> list[SharedItem]:
    cells = cells_for(source=source, kind=kind)
    facts = _facts(user_id=user_id, cells=cells, others=[other_id])
    shared = _shared_rows(facts=facts, other_ids=[other_id])
    weights = facts.shared_weights(other=other_id, shared=shared[other_id])
    refs = _item_refs(weights)
    return sort_shared(SharedItem(item=refs[key], weight=w) for key, w in weights.items())


async def common_items(
    *, user_id: int, other_id: int, kind: str | None, source: BudSource
) -> list[SharedItem]:
    return await sync_to_async(_common_items)(
        user_id=user_id, other_id=other_id, kind=kind, source=source
    )


def _buds_for_item(
    *, kind: str, item_id: int, limit: int, cursor: str | None, hidden: frozenset[int]
) -> BudPage:
    holders: dict[int, list[str]] = defaultdict(list)
    for user, relation in (
        TasteEdge.objects.filter(kind=kind, user__is_active=True, **{f"{kind}_id": item_id})
        .exclude(user_id__in=hidden)
        .values_list("user_id", "relation")
    ):
        holders[int(user)].append(relation)
    if not holders:
        return BudPage(buds=[], next_cursor=None, previous_cursor=None)
    sizes: dict[int, dict[str, int]] = defaultdict(dict)
    for (user, (relation, _)), size in _sizes(
        user_ids=list(holders), cells=[(relation, kind) for relation in Relation.values]
    ).items():
        sizes[user][relation] = size
    profiles = {
        pk: (public_id, username, display_name)
        for pk, public_id, username, display_name in User.objects.filter(
            pk__in=holders
        ).values_list("pk", "public_id", "username", "display_name")
    }
    ranked = top_scored(
        (
            (user, profiles[user][0], item_bud_score(relations=rels, sizes=sizes[user]))
            for user, rels in holders.items()
        ),
        limit=limit,
        cursor=cursor,
    )
    key = item_key(kind, item_id)
    ref = _item_refs([key])
    return BudPage(
        buds=[
            build_bud(
                Candidate(user, public_id, *profiles[user][1:], score),
                shared={key: score},
                items=ref,
            )
            for score, public_id, user in ranked.rows
        ],
        next_cursor=ranked.next_cursor,
        previous_cursor=ranked.previous_cursor,
    )


async def buds_for_item(
    *,
    kind: str,
    item_id: int,
    limit: int,
    cursor: str | None,
    hidden: frozenset[int] = frozenset(),
) -> BudPage:
    return await sync_to_async(_buds_for_item)(
        kind=kind, item_id=item_id, limit=limit, cursor=cursor, hidden=hidden
    )


def _item_bud_count(
    *, kind: str, item_id: int, exclude_user_id: int | None, hidden: frozenset[int]
) -> int:
    # What _buds_for_item pages through: every active visible holder (each scores above 0).
    holders = TasteEdge.objects.filter(
        kind=kind, user__is_active=True, **{f"{kind}_id": item_id}
    ).exclude(user_id__in=hidden)
    if exclude_user_id is not None:
        holders = holders.exclude(user_id=exclude_user_id)
    return holders.values("user_id").distinct().count()


async def item_bud_count(
    *, kind: str, item_id: int, exclude_user_id: int | None, hidden: frozenset[int] = frozenset()
) -> int:
    return await sync_to_async(_item_bud_count)(
        kind=kind, item_id=item_id, exclude_user_id=exclude_user_id, hidden=hidden
    )


def _recommendations(
    *, user_id: int, kind: str, limit: int, hidden: frozenset[int]
) -> list[Recommendation]:
    facts = _facts(user_id=user_id, cells=cells_for(source=BudSource.ALL, kind=None))
    top, _ = _ranked(facts, limit=BUDS_PER_RECOMMENDATION, cursor=None, hidden=hidden)
    buds = {user: score for score, _, user in top.rows}
    if not buds:
        return []
    column = f"{ItemKind(kind).value}_id"
    mine = TasteEdge.objects.filter(user_id=user_id, kind=kind).values(column)
    holders = (
        TasteEdge.objects.filter(user_id__in=buds, kind=kind)
        .exclude(**{f"{column}__in": mine})
        .values_list("user_id", column)
    )
    totals = recommendation_scores(
        bud_scores=buds, holders=((int(user), item_key(kind, item)) for user, item in holders)
    )
    refs = _item_refs(totals)
    ranked = sorted(
        (
            Recommendation(item=refs[key], score=round_score(t.score), liked_by=t.liked_by)
            for key, t in totals.items()
        ),
        key=lambda r: (-r.score, r.item.name, r.item.public_id),
    )
    return ranked[: max(1, limit)]


async def recommendations(
    *, user_id: int, kind: str, limit: int, hidden: frozenset[int] = frozenset()
) -> list[Recommendation]:
    return await sync_to_async(_recommendations)(
        user_id=user_id, kind=kind, limit=limit, hidden=hidden
    )


def _pair_facts(*, user_ids: Sequence[int], cells: list[Cell]) -> PairFacts:
    relations = sorted({relation for relation, _ in cells})
    kinds = sorted({kind for _, kind in cells})
    wanted = set(cells)
    edges = TasteEdge._meta.db_table
    popularity = ItemPopularity._meta.db_table
    item = item_id_sql("e")
    marks = [", ".join(["%s"] * len(values)) for values in (user_ids, relations, kinds)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.user_id, e.relation, e.kind, {item}, p.holders FROM {edges} e "  # noqa: S608
            f"LEFT JOIN {popularity} p ON p.relation = e.relation AND p.kind = e.kind "
            f"AND p.item_id = {item} WHERE e.user_id IN ({marks[0]}) "
            f"AND e.relation IN ({marks[1]}) AND e.kind IN ({marks[2]})",
            [*user_ids, *relations, *kinds],
        )
        rows = cursor.fetchall()
    libraries: dict[int, dict[Cell, set[int]]] = {int(user): {} for user in user_ids}
    df: dict[tuple[Cell, int], int] = {}
    for user, relation, kind, item_id, holders in rows:
        cell = (relation, kind)
        if cell not in wanted:
            continue
        libraries[int(user)].setdefault(cell, set()).add(int(item_id))
        if holders is not None:
            df[(cell, int(item_id))] = int(holders)
    users = {
        (relation, kind): count
        for relation, kind, count in CellPopulation.objects.filter(
            relation__in=relations, kind__in=kinds
        ).values_list("relation", "kind", "users")
        if (relation, kind) in wanted
    }
    return PairFacts(libraries=libraries, df=df, users=users)


def _named_refs(keys: Iterable[str]) -> dict[str, ItemRef]:
    """The items ``keys`` name, every kind in one query (a page's ``_item_refs`` takes one
    per kind)."""
    by_kind = item_ids_by_kind(keys)
    if not by_kind:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for kind, ids in sorted(by_kind.items()):
        table = ITEM_MODELS[kind]._meta.db_table
        marks = ", ".join(["%s"] * len(ids))
        parts.append(
            f"SELECT %s, id, public_id, name FROM {table} WHERE id IN ({marks})"  # noqa: S608
        )
        params.extend([kind, *ids])
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return {
        item_key(kind, pk): ItemRef(kind=kind, public_id=_public_uuid(public_id), name=name)
        for kind, pk, public_id, name in rows
    }


def _pair_facts_named(
    *, user_ids: Sequence[int], cells: list[Cell], to_name: Callable[[PairFacts], set[str]]
) -> tuple[PairFacts, dict[str, ItemRef]]:
    facts = _pair_facts(user_ids=user_ids, cells=cells)
    return facts, _named_refs(to_name(facts))


async def pair_facts(
    *, user_ids: Sequence[int], cells: list[Cell], to_name: Callable[[PairFacts], set[str]]
) -> tuple[PairFacts, dict[str, ItemRef]]:
    # One hop for the facts, the choice of the items to name and their names.
    return await sync_to_async(_pair_facts_named)(user_ids=user_ids, cells=cells, to_name=to_name)
