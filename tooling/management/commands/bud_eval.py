"""``manage.py bud_eval``: how well the bud ranking finds planted taste communities, against the
raw-overlap baseline, over several seeds, on each graph backend (``tooling/bud_eval.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from musicbud.models import User
from tooling.arcadedb import BoltServerError, embedded_bolt_server_start
from tooling.bud_eval import PlantedConfig, evaluate, evaluation_table


class Command(BaseCommand):
    help = (
        "Evaluate the bud ranking on planted taste communities in a fresh database: "
        "precision, recall and nDCG at 5, 7 and 10 for the project's score and the raw-overlap "
        "baseline, mean and worst seed, on the SQL backend and (with a Bolt server) Neo4j."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sizes = parser.add_argument_group("the planted world (tooling/bud_eval.py)")
        for size in fields(PlantedConfig):
            default = getattr(PlantedConfig(), size.name)
            sizes.add_argument(
                f"--{size.name.replace('_', '-')}",
                type=type(default),
                default=default,
                help=f"default {default}",
            )
        parser.add_argument(
            "--seeds", type=int, default=5, help="how many seeds (1, 2, ...; default 5)"
        )
        parser.add_argument(
            "--backends",
            default="sql",
            help="sql (default), neo4j, sql,neo4j, or auto: sql, and neo4j when a Bolt server "
            "is given (--bolt-url, TEST_NEO4J_URL) or can be started (the arcadedb-embedded "
            "wheel). The neo4j backend on ArcadeDB takes minutes at the default size.",
        )
        parser.add_argument(
            "--bolt-url",
            default=None,
            help="a Bolt server to project into (it is wiped); default TEST_NEO4J_URL, else an "
            "embedded ArcadeDB is started",
        )
        parser.add_argument(
            "--use-current-database",
            action="store_true",
            help="build in the configured database instead of a fresh one (it must hold no users)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = PlantedConfig(**{size.name: options[size.name] for size in fields(PlantedConfig)})
        problems = config.problems()
        if problems:
            raise CommandError("; ".join(problems))
        if options["seeds"] < 1:
            raise CommandError("--seeds must be at least 1")
        wanted = options["backends"]
        if wanted not in ("auto", "sql", "neo4j", "sql,neo4j", "neo4j,sql"):
            raise CommandError("--backends must be auto, sql, neo4j or sql,neo4j")
        started = time.monotonic()
        with self._bolt_server(wanted, options["bolt_url"]) as bolt_url:
            backends: dict[str, str | None] = {}
            if wanted in ("auto", "sql") or "sql" in wanted.split(","):
                backends["sql"] = None
            if bolt_url is not None:
                backends["neo4j"] = bolt_url
            with self._database(current=options["use_current_database"]):
                evaluation = evaluate(
                    config,
                    seeds=range(1, options["seeds"] + 1),
                    backends=backends,
                    report=self.stdout.write,
                )
        self.stdout.write(f"bud_eval: {config.describe()}")
        self.stdout.write(
            f"seeds 1-{options['seeds']}, {evaluation.queries} members asked for their top "
            f"10 buds (source all, every kind) on {connection.vendor}"
        )
        for line in evaluation_table(evaluation):
            self.stdout.write(line)
        for backend, (same, total) in evaluation.agreement.items():
            self.stdout.write(f"{backend}: {same} of {total} rankings identical to sql's")
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")

    @contextmanager
    def _bolt_server(self, wanted: str, url: str | None) -> Iterator[str | None]:
        if wanted == "sql":
            yield None
            return
        url = url or settings.TEST_NEO4J_URL
        if url:
            yield url
            return
        try:
            server = embedded_bolt_server_start()
        except BoltServerError as exc:
            if wanted != "auto":
                raise CommandError(f"no Bolt server for the neo4j backend: {exc}") from exc
            self.stdout.write(f"neo4j backend skipped: {exc}")
            yield None
            return
        try:
            yield server.url
        finally:
            server.stop()

    @contextmanager
    def _database(self, *, current: bool) -> Iterator[None]:
        if current:
            if User.objects.exists():
                raise CommandError(
                    "--use-current-database needs a database without users (it is emptied)"
                )
            yield
            return
        # Django's test-database machinery: a new database (an in-memory one on SQLite),
        # migrated, used, and dropped afterwards; its own name, so no test run collides.
        original = connection.settings_dict["NAME"]
        if connection.vendor != "sqlite":
            connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{original}_bud_eval"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        if connection.vendor == "postgresql":
            # A throw-away database: no need to wait for each commit to reach the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO OFF")
        try:
            yield
        finally:
            connection.creation.destroy_test_db(original, verbosity=0)
