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
from musicbud.kinds import ITEM_ID_COLUMNS, KIND_SPECS, item_id_sql
from musicbud.models import ItemKind, Relation, TasteEdge

# Lock order, the same in every function here: holder rows by (relation, kind, item), then
# library rows by user, then cells by (relation, kind) — so concurrent writers cannot
# deadlock. A user's library row is the one every write of that user locks until commit, so
# it comes last but for the (rare) cell update, in one statement: callers run these last in
# their transaction, so the row is held for that statement and the commit only.


def taste_stats_add(*, edges: Sequence[EdgeKey]) -> None:
    """Count these new edges: item holders, library sizes and the user count of a cell a
    library enters, in three statements however many edges."""
    taste_stats_change(added=edges)


def taste_stats_remove(*, edges: Sequence[EdgeKey]) -> None:
    """Uncount these deleted edges (never below zero); a cell a library leaves loses a user and
    an item's holder row goes with its last holder."""
    taste_stats_change(removed=edges)


def taste_stats_change(*, added: Sequence[EdgeKey] = (), removed: Sequence[EdgeKey] = ()) -> None:
    """Count ``added`` and uncount ``removed`` edges together, in the one lock order."""
    if not (added or removed):
        return
    with transaction.atomic(savepoint=False):
        if added:
            counters_add(
                model=ItemPopularity,
                key=("relation", "kind", "item_id"),
                counters=("holders",),
                rows=[((edge.relation, edge.kind, edge.item_id), (1,)) for edge in added],
            )
        if removed:
            _holders_remove(Counter((edge.relation, edge.kind, edge.item_id) for edge in removed))
        cells: Counter[tuple[str, str]] = Counter()
        if added:
            cells.update(_libraries_grow(added))
        if removed:
            cells.subtract(_libraries_shrink_all(removed))
        # Cells entered in one statement, then each cell left (counters_add never subtracts).
        entered = [(cell, (change,)) for cell, change in sorted(cells.items()) if change > 0]
        if entered:
            counters_add(
                model=CellPopulation, key=("relation", "kind"), counters=("users",), rows=entered
            )
        for (relation, kind), change in sorted(cells.items()):
            if change < 0:
                CellPopulation.objects.filter(relation=relation, kind=kind).update(
                    users=F("users") + change
                )


def _libraries_grow(edges: Sequence[EdgeKey]) -> Counter[tuple[str, str]]:
    """Add the edges to their users' library sizes (one statement); returns, per cell, how
    many libraries entered it (their size there is what was just added: they were empty)."""
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
    return Counter(
        (relation, kind)
        for (user_id, relation, kind), count in added.items()
        if sizes[(user_id,)][column_of[(relation, kind)]] == count
    )


def _libraries_shrink_all(edges: Sequence[EdgeKey]) -> Counter[tuple[str, str]]:
    """Take the edges off their users' library sizes; returns, per cell, how many libraries
    left it."""
    by_amount: defaultdict[tuple[str, str, int], list[int]] = defaultdict(list)
    for (user_id, relation, kind), count in Counter(
        (edge.user_id, edge.relation, edge.kind) for edge in edges
    ).items():
        by_amount[(relation, kind, count)].append(user_id)
    user_ids = sorted({edge.user_id for edge in edges})
    if len(user_ids) > 1:
        # Several users' rows: lock them in order first (an UPDATE locks in scan order).
        list(
            UserLibrary.objects.select_for_update()
            .filter(user_id__in=user_ids)
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )
    left: Counter[tuple[str, str]] = Counter()
    for (relation, kind, amount), ids in sorted(by_amount.items()):
        left[(relation, kind)] += _libraries_shrink(
            column=library_column(relation, kind), amount=amount, user_ids=ids
        )
    return left


def _libraries_shrink(*, column: str, amount: int, user_ids: list[int]) -> int:
    """Take ``amount`` off the column of these users' libraries (never below zero) in one
    statement; returns how many of them it emptied (those libraries left the cell)."""
    table = connection.ops.quote_name(UserLibrary._meta.db_table)
    name = connection.ops.quote_name(column)
    ids = ", ".join(["%s"] * len(user_ids))
    with connection.cursor() as cursor:
        # The table and column come from the model; every value is a bound parameter.
        cursor.execute(
            f"UPDATE {table} SET {name} = CASE WHEN {name} > %s THEN {name} - %s ELSE 0 END "  # noqa: S608
            f"WHERE user_id IN ({ids}) AND {name} > 0 RETURNING {name}",
            [amount, amount, *user_ids],
        )
        return sum(1 for (size,) in cursor.fetchall() if size == 0)


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
    rows = edges.annotate(item=Coalesce(*ITEM_ID_COLUMNS)).values_list(
        "user_id", "relation", "kind", "item"
    )
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
    item = item_id_sql()
    columns = [(relation, kind) for relation in Relation.values for kind in KIND_SPECS]
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
