"""The statistics the similarity formula divides by, kept exact in the writes' transactions: each
user's library size per (relation, kind) cell, each cell's user count, each item's holders."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from graph.counters import counters_add
from graph.models import CellPopulation, ItemPopularity, UserLibrary, library_column
from graph.types import EdgeKey
from musicbud.models import ItemKind, Relation, TasteEdge

# Lock order, the same in every function here: library rows by user, cells by (relation,
# kind), holder rows by (relation, kind, item) — so concurrent writers cannot deadlock.


def taste_stats_add(*, edges: Sequence[EdgeKey]) -> None:
    """Count these new edges: library sizes, the user count of a cell a library enters, and
    item holders, in three statements however many edges."""
    if not edges:
        return
    cells = sorted({(edge.relation, edge.kind) for edge in edges})
    column_of = {cell: index for index, cell in enumerate(cells)}
    added = Counter((edge.user_id, edge.relation, edge.kind) for edge in edges)
    rows = []
    for (user_id, relation, kind), count in added.items():
        amounts = [0] * len(cells)
        amounts[column_of[(relation, kind)]] = count
        rows.append(((user_id,), amounts))
    sizes = counters_add(
        model=UserLibrary,
        key=("user_id",),
        counters=[library_column(relation, kind) for relation, kind in cells],
        rows=rows,
    )
    # A library whose size in a cell is what was just added was empty there: one user more.
    entered = [
        ((relation, kind), (1,))
        for (user_id, relation, kind), count in added.items()
        if sizes[(user_id,)][column_of[(relation, kind)]] == count
    ]
    if entered:
        counters_add(
            model=CellPopulation, key=("relation", "kind"), counters=("users",), rows=entered
        )
    counters_add(
        model=ItemPopularity,
        key=("relation", "kind", "item_id"),
        counters=("holders",),
        rows=[((edge.relation, edge.kind, edge.item_id), (1,)) for edge in edges],
    )


def taste_stats_remove(*, edges: Sequence[EdgeKey]) -> None:
    """Uncount these deleted edges (never below zero); a cell a library leaves loses a user and
    an item's holder row goes with its last holder."""
    if not edges:
        return
    removed = Counter((edge.user_id, edge.relation, edge.kind) for edge in edges)
    with transaction.atomic(savepoint=False):
        columns = sorted({library_column(relation, kind) for _, relation, kind in removed})
        libraries = {
            user_id: dict(zip(columns, sizes, strict=True))
            for user_id, *sizes in UserLibrary.objects.select_for_update()
            .filter(user_id__in={user_id for user_id, _, _ in removed})
            .order_by("user_id")
            .values_list("user_id", *columns)
        }
        by_amount: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
        left: Counter[tuple[str, str]] = Counter()
        for (user_id, relation, kind), count in removed.items():
            column = library_column(relation, kind)
            size = libraries.get(user_id, {}).get(column, 0)
            if size == 0:
                continue
            by_amount[(column, min(count, size))].append(user_id)
            if size <= count:
                left[(relation, kind)] += 1
        for (column, amount), user_ids in sorted(by_amount.items()):
            UserLibrary.objects.filter(user_id__in=user_ids).update(**{column: F(column) - amount})
        for (relation, kind), count in sorted(left.items()):
            CellPopulation.objects.filter(relation=relation, kind=kind).update(
                users=F("users") - count
            )
        _holders_remove(Counter((edge.relation, edge.kind, edge.item_id) for edge in edges))


def _holders_remove(removed: Counter[tuple[str, str, int]]) -> None:
    items: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for relation, kind, item_id in removed:
        items[(relation, kind)].append(item_id)
    held = Q()
    for (relation, kind), item_ids in items.items():
        held |= Q(relation=relation, kind=kind, item_id__in=item_ids)
    rows = (
        ItemPopularity.objects.select_for_update()
        .filter(held)
        .order_by("relation", "kind", "item_id")
        .values_list("pk", "relation", "kind", "item_id", "holders")
    )
    by_amount: defaultdict[int, list[int]] = defaultdict(list)
    gone: list[int] = []
    for pk, relation, kind, item_id, holders in rows:
        amount = removed[(relation, kind, item_id)]
        # Holder rows exist only while someone holds the item.
        (gone if holders <= amount else by_amount[amount]).append(pk)
    for amount, pks in sorted(by_amount.items()):
        ItemPopularity.objects.filter(pk__in=pks).update(holders=F("holders") - amount)
    if gone:
        ItemPopularity.objects.filter(pk__in=gone).delete()


def _edge_keys(edges: QuerySet[TasteEdge]) -> list[EdgeKey]:
    rows = edges.annotate(
        item=Coalesce("track_id", "artist_id", "album_id", "genre_id")
    ).values_list("user_id", "relation", "kind", "item")
    return [EdgeKey(user_id, relation, kind, item) for user_id, relation, kind, item in rows]


def taste_stats_user_forget(*, user_id: int) -> None:
    """Before a user is deleted (their edges cascade past the taste services): uncount their
    edges and drop their library row, in the deletion's transaction."""
    with transaction.atomic(savepoint=False):
        taste_stats_remove(edges=_edge_keys(TasteEdge.objects.filter(user_id=user_id)))
        UserLibrary.objects.filter(user_id=user_id).delete()


def taste_stats_item_forget(*, kind: str, item_id: int) -> None:
    """Before a catalogue item is deleted (its edges cascade past the taste services): uncount
    its edges and drop its holder rows, in the deletion's transaction."""
    kind = ItemKind(kind).value
    with transaction.atomic(savepoint=False):
        holders = TasteEdge.objects.filter(kind=kind, **{f"{kind}_id": item_id})
        taste_stats_remove(edges=_edge_keys(holders))
        ItemPopularity.objects.filter(kind=kind, item_id=item_id).delete()


def taste_stats_refresh() -> None:
    """Recompute every statistic from the taste edges: after bulk loads that bypass the taste
    services (demo data) or deletions that cascade past them."""
    library = UserLibrary._meta.db_table
    popularity = ItemPopularity._meta.db_table
    population = CellPopulation._meta.db_table
    edges = TasteEdge._meta.db_table
    item = "COALESCE(track_id, artist_id, album_id, genre_id)"
    columns = [(relation, kind) for relation in Relation.values for kind in ItemKind.values]
    # Relations and kinds are fixed choices; only they and table names are interpolated.
    counts = ", ".join(
        f"SUM(CASE WHEN relation = '{relation}' AND kind = '{kind}' THEN 1 ELSE 0 END)"
        for relation, kind in columns
    )
    names = ", ".join(library_column(relation, kind) for relation, kind in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {library}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {library} (user_id, {names}) "  # noqa: S608
            f"SELECT user_id, {counts} FROM {edges} GROUP BY user_id"
        )
        cursor.execute(f"DELETE FROM {population}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {population} (relation, kind, users) "  # noqa: S608
            f"SELECT relation, kind, COUNT(DISTINCT user_id) FROM {edges} GROUP BY relation, kind"
        )
        cursor.execute(f"DELETE FROM {popularity}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {popularity} (relation, kind, item_id, holders) "  # noqa: S608
            f"SELECT relation, kind, {item}, COUNT(*) FROM {edges} "
            f"GROUP BY relation, kind, {item}"
        )
