"""``manage.py sync_bench``: the provider sync benchmark against the stand-in (not a test)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tooling.sync_bench import sync_bench_run


class Command(BaseCommand):
    help = (
        "Time a first Spotify sync of a large library and a re-sync with no change, through "
        "the real services, against the provider stand-in on loopback. Use PostgreSQL."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--tracks", type=int, default=10_000, help="saved tracks")
        parser.add_argument("--albums", type=int, default=200, help="saved albums")
        parser.add_argument("--follows", type=int, default=500, help="followed artists")
        parser.add_argument("--top", type=int, default=50, help="top tracks and top artists")
        parser.add_argument(
            "--latency-ms",
            type=float,
            default=0.0,
            help="added to each stand-in answer (a real provider's round trip)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = sync_bench_run(
            tracks=options["tracks"],
            albums=options["albums"],
            follows=options["follows"],
            top=options["top"],
            latency_ms=options["latency_ms"],
            say=lambda line: self.stderr.write(line),
        )
        self.stdout.write(report)
