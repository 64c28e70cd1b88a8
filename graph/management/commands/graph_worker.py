"""Apply pending projection outbox rows to Neo4j, retrying failures with exponential backoff,
and prune applied rows past their retention."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from graph.connection import graph_configured
from graph.outbox import outbox_prune
from graph.projection import ApplyReport, projection_apply, projection_lag


class Command(BaseCommand):
    help = (
        "Apply pending graph projection rows (the outbox) to Neo4j; rows that fail are retried "
        "with exponential backoff; applied rows older than GRAPH_OUTBOX_RETENTION_DAYS are "
        "deleted. Runs until stopped, or one pass with --once."
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
            self._report(total, pruned=self._prune())
            return
        while True:
            total = self._drain()
            pruned = self._prune()
            if total.processed or pruned:
                self._report(total, pruned=pruned)
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

    def _prune(self) -> int:
        """Delete applied rows past the retention, a batch per statement (each a short
        transaction, so a large backlog never holds one long delete)."""
        before = timezone.now() - timedelta(days=settings.GRAPH_OUTBOX_RETENTION_DAYS)
        batch = settings.GRAPH_WORKER_BATCH_SIZE
        pruned = 0
        while True:
            deleted = outbox_prune(applied_before=before, limit=batch)
            pruned += deleted
            if deleted < batch:
                return pruned

    def _report(self, report: ApplyReport, *, pruned: int) -> None:
        lag = projection_lag()
        self.stdout.write(
            f"applied {report.applied}, skipped {report.skipped}, failed {report.failed}; "
            f"pending {lag.pending}; pruned {pruned}"
        )
