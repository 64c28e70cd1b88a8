"""Benchmark the graph layer: buds_for_user latency on the SQL backend, and graph_rebuild time."""

from __future__ import annotations

import io
import os
import platform
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from graph.benchmark import bench_dataset_create, buds_latency
from graph.connection import drivers_reset
from graph.types import BudSource
from musicbud.models import TasteEdge, User


class Command(BaseCommand):
    help = (
        "Measure buds_for_user p50/p95 on the SQL backend over many users and time "
        "graph_rebuild into a Bolt server. --generate fills an EMPTY database first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generate", action="store_true", help="create the dataset first")
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--edges", type=int, default=1_000_000)
        parser.add_argument("--tracks", type=int, default=50_000)
        parser.add_argument("--zipf", type=float, default=0.9, help="item popularity skew")
        parser.add_argument(
            "--samples", type=int, default=300, help="users to time (0: skip the latency run)"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="also time graph_rebuild (into NEO4J_URL, else an embedded ArcadeDB)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate"]:
            if User.objects.exists():
                raise CommandError("--generate needs an empty database (use a dedicated one)")
            bench_dataset_create(
                users=options["users"],
                edges=options["edges"],
                tracks=options["tracks"],
                seed=options["seed"],
                zipf=options["zipf"],
                report=self.stdout.write,
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        self.stdout.write(
            f"dataset: {User.objects.count()} users, {TasteEdge.objects.count()} taste edges "
            f"on {connection.vendor}; machine: {os.cpu_count()} cores, {platform.machine()}"
        )
        measured = ((BudSource.ALL, None), (BudSource.LIKES, "track"))
        for source, kind in measured if options["samples"] > 0 else ():
            result = buds_latency(
                samples=options["samples"], source=source, kind=kind, limit=20, seed=options["seed"]
            )
            self.stdout.write(
                f"buds_for_user source={source.value} kind={kind or 'any'}: "
                f"{result.samples} users, p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms"
            )
        if options["rebuild"]:
            self._time_rebuild()

    def _time_rebuild(self) -> None:
        server = None
        if not settings.NEO4J_URL:
            from graph.arcadedb import embedded_bolt_server_start

            server = embedded_bolt_server_start(heap="2g")
            settings.NEO4J_URL = server.url
            drivers_reset()
        try:
            call_command("graph_install_labels", stdout=io.StringIO())
            started = time.monotonic()
            out = io.StringIO()
            call_command("graph_rebuild", "--restart", stdout=out)
            elapsed = time.monotonic() - started
            self.stdout.write(out.getvalue().splitlines()[-1])
            self.stdout.write(f"graph_rebuild: {elapsed:.1f} s")
        finally:
            drivers_reset()
            if server is not None:
                server.stop()
