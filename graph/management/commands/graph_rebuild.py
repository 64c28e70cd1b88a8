"""Rebuild the whole Neo4j projection from the relational DB (resumable; see graph.rebuild)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from graph.connection import graph_configured
from graph.rebuild import RebuildProgress, graph_rebuild


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Command(BaseCommand):
    help = (
        "Rebuild the Neo4j projection (users, catalogue, taste edges) from the relational DB "
        "in batches, printing progress; an interrupted rebuild resumes where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=settings.GRAPH_REBUILD_BATCH_SIZE)
        parser.add_argument(
            "--restart", action="store_true", help="ignore a saved checkpoint and start over"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_configured():
            raise CommandError("NEO4J_URL is not set: there is no graph store to rebuild")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        started = time.monotonic()
        result = graph_rebuild(
            batch_size=options["batch_size"], restart=options["restart"], progress=self._progress
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"rebuilt: {result.items_done} items, {result.edges_done} edges in {elapsed:.1f} s"
            )
        )

    def _progress(self, state: RebuildProgress) -> None:
        self.stdout.write(
            f"{state.phase:<13} items {state.items_done}/{state.items_total}  "
            f"edges {state.edges_done}/{state.edges_total}  {state.rate:,.0f}/s  "
            f"ETA {_duration(state.eta_seconds)}"
        )
