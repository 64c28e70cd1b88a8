"""Counter rows added to in one statement: ``INSERT … ON CONFLICT (key) DO UPDATE SET counter =
counter + excluded.counter … RETURNING``, the one upsert behind versions and statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

Key = tuple[Any, ...]

# Rows per statement: keeps the bound parameters under SQLite's limit (32,766) for wide rows.
_BATCH = 500


def counters_add(
    *,
    model: type[Model],
    key: Sequence[str],
    counters: Sequence[str],
    rows: Iterable[tuple[Key, Sequence[int]]],
) -> dict[Key, tuple[int, ...]]:
    """Add each row's amounts to the counters of the row with its key, creating missing rows
    with the amounts; returns each key's counters after the addition.

    Rows sharing a key are summed first (one statement may touch a row only once), and rows
    go in key order, so concurrent callers take the row locks in the same order and cannot
    deadlock. Adding 0 takes a row's lock (until commit) without changing it.
    """
    summed: dict[Key, list[int]] = {}
    for row_key, amounts in rows:
        total = summed.setdefault(tuple(row_key), [0] * len(counters))
        for index, amount in enumerate(amounts):
            total[index] += amount
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [connection.ops.quote_name(name) for name in (*key, *counters)]
    width = len(columns)
    updates = ", ".join(
        f"{name} = {table}.{name} + excluded.{name}" for name in columns[len(key) :]
    )
    result: dict[Key, tuple[int, ...]] = {}
    ordered = sorted(summed.items())
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _BATCH):
            batch = ordered[start : start + _BATCH]
            values = ", ".join([f"({', '.join(['%s'] * width)})"] * len(batch))
            # Table and column names come from the model; every value is a bound parameter.
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} "  # noqa: S608
                f"ON CONFLICT ({', '.join(columns[: len(key)])}) DO UPDATE SET {updates} "
                f"RETURNING {', '.join(columns)}",
                [value for row_key, amounts in batch for value in (*row_key, *amounts)],
            )
            for row in cursor.fetchall():
                result[tuple(row[: len(key)])] = tuple(int(value) for value in row[len(key) :])
    return result
