"""``manage.py loadtest``: the mixed-traffic load test (``tooling.loadtest``); not a test."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tooling.loadtest.runner import Options, run


class Command(BaseCommand):
    help = (
        "Start the production server (gunicorn, uvicorn workers) on loopback and drive it with "
        "Locust's virtual users (log in, profile, buds, catalogue pages, like/unlike, chat over "
        "the WebSocket, history) for a fixed time; report req/s, p50/p95/p99 per route and "
        "errors, and check every acknowledged write is in the database exactly once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--users", type=int, default=50, help="virtual users (default 50)")
        parser.add_argument(
            "--spawn-rate",
            type=float,
            default=2.0,
            help="users started (each logs in) per second (default 2)",
        )
        parser.add_argument(
            "--seconds", type=int, default=60, help="run time, ramp-up included (default 60)"
        )
        parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
        parser.add_argument("--port", type=int, default=8120, help="default 8120")
        parser.add_argument(
            "--find-max",
            default="",
            help=(
                "a ladder of user counts, e.g. 25,50,100,200: each is run in turn (a fresh "
                "server each) until one has an error or a p99 >= 1 s; reports the highest that "
                "passed"
            ),
        )
        parser.add_argument("--log-dir", type=Path, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ladder = tuple(int(n) for n in options["find_max"].split(",") if n.strip())
        except ValueError as exc:
            raise CommandError("--find-max takes user counts separated by commas") from exc
        given: dict[str, Any] = {}
        if options["log_dir"] is not None:
            given["log_dir"] = options["log_dir"]
        report = run(
            Options(
                users=options["users"],
                spawn_rate=options["spawn_rate"],
                seconds=options["seconds"],
                workers=options["workers"],
                port=options["port"],
                ladder=ladder,
                **given,
            ),
            say=lambda line: self.stderr.write(line),
        )
        self.stdout.write(report)
