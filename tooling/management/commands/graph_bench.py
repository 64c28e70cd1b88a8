"""Benchmark the graph layer on the seed_demo dataset: buds_for_user latency on the SQL backend,
and graph_rebuild time into a Bolt server."""

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

from graph.connection import drivers_reset
from graph.types import BudSource
from musicbud.errors import MusicbudError
from musicbud.models import ItemKind, TasteEdge, User
from tooling.arcadedb import embedded_bolt_server_start
from tooling.demo import DEFAULT_SEED, DEFAULT_TRACKS, demo_seed
from tooling.graph_benchmark import (
    Latency,
    bench_users,
    buds_latency,
    compatibility_latency,
    private_users_mark,
    visibility_cost,
)

# What the API asks by default (every kind) and the most common single kind, per source.
MEASURED: tuple[tuple[BudSource, str | None], ...] = tuple(
    (source, kind) for source in BudSource for kind in (None, ItemKind.TRACK.value)
)


class Command(BaseCommand):
    help = (
        "Measure buds_for_user p50/p95/p99 on the SQL backend over a sample of users and time "
        "graph_rebuild into a Bolt server. --seed-demo loads the seed_demo dataset first "
        "(use a dedicated database)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed-demo",
            action="store_true",
            help="run seed_demo with --users/--tracks/--edges first (idempotent)",
        )
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--edges", type=int, default=1_000_000)
        parser.add_argument("--tracks", type=int, default=DEFAULT_TRACKS)
        parser.add_argument(
            "--samples", type=int, default=300, help="users to time (0: skip the latency run)"
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--private-share",
            type=float,
            default=0.0,
            help="first make this share of users discoverable by nobody (0.05: 5%%)",
        )
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="also time graph_rebuild (into NEO4J_URL, else an embedded ArcadeDB)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seed_demo"]:
            started = time.monotonic()
            try:
                # seed_demo recomputes the similarity statistics after its bulk inserts.
                seeded = demo_seed(
                    users=options["users"],
                    tracks=options["tracks"],
                    edges=options["edges"],
                    seed=options["seed"],
                )
            except MusicbudError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(
                f"seed_demo: {'created' if seeded.created else 'already present'} "
                f"in {time.monotonic() - started:.1f} s"
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        self.stdout.write(
            f"dataset: {User.objects.count()} users, {TasteEdge.objects.count()} taste edges "
            f"on {connection.vendor}; machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"load {load:.2f}"
        )
        if options["samples"] > 0:
            users = bench_users(samples=options["samples"], seed=options["seed"])
            if not users:
                raise CommandError("no user has taste edges: run seed_demo (or --seed-demo)")
            if options["private_share"] > 0:
                private = private_users_mark(
                    user_ids=list(User.objects.values_list("pk", flat=True)),
                    share=options["private_share"],
                    seed=options["seed"],
                )
                self.stdout.write(f"privacy: {private} users discoverable by nobody")
            for source, kind in MEASURED:
                timing = buds_latency(user_ids=users, source=source, kind=kind, limit=20)
                self._report(f"buds_for_user source={source.value} kind={kind or 'any'}", timing)
            # The default page as a cold /me/buds asks it, without and with the visibility
            # rule (its query and filter), interleaved user by user in one run.
            plain, visible = visibility_cost(user_ids=users)
            self._report("buds_for_user source=all kind=any interleaved", plain)
            self._report("buds_for_user source=all kind=any interleaved +visibility", visible)
            self._report("compatibility", compatibility_latency(user_ids=users), unit="pairs")
        if options["rebuild"]:
            self._time_rebuild()

    def _report(self, name: str, timing: Latency, *, unit: str = "users") -> None:
        self.stdout.write(
            f"{name}: {timing.samples} {unit}, p50 {timing.p50_ms:.1f} ms, "
            f"p95 {timing.p95_ms:.1f} ms, p99 {timing.p99_ms:.1f} ms, max {timing.max_ms:.1f} ms"
        )

    def _time_rebuild(self) -> None:
        server = None
        if not settings.NEO4J_URL:
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
