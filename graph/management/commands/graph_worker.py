"""Apply pending projection outbox rows to Neo4j, retrying failures with exponential backoff."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from graph.connection import graph_configured
from graph.projection import ApplyReport, projection_apply, projection_lag


class Command(BaseCommand):
    help = (
        "Apply pending graph projection rows (the outbox) to Neo4j; rows that fail are retried "
        "with exponential backoff. Runs until stopped, or one pass with --once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="apply what is due now, then exit")
        parser.add_argument(
            "--poll", type=float, default=1.0, help="seconds to sleep when nothing is due"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_configured():
            raise CommandError("NEO4J_URL is not set: there is no graph store to project into")
        if options["once"]:
            total = self._drain()
            self._report(total)
            return
        while True:
            total = self._drain()
            if total.processed:
                self._report(total)
            # A long-running process: do not keep a connection the database may have closed.
            close_old_connections()
            time.sleep(options["poll"])

    def _drain(self) -> ApplyReport:
        """Apply due rows batch after batch until none is due or a batch fails."""
        applied = skipped = failed = 0
        while True:
            report = projection_apply()
            applied += report.applied
            skipped += report.skipped
            failed += report.failed
            if report.failed or not report.processed:
                return ApplyReport(applied=applied, skipped=skipped, failed=failed)

    def _report(self, report: ApplyReport) -> None:
        lag = projection_lag()
        self.stdout.write(
            f"applied {report.applied}, skipped {report.skipped}, failed {report.failed}; "
            f"pending {lag.pending}"
        )
