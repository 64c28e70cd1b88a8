"""``manage.py import_bench``: the history-upload benchmark (not a test)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tooling.import_bench import import_bench_run


class Command(BaseCommand):
    help = (
        "Generate a Spotify Extended streaming history (zipped), upload it through the upload "
        "service with the job run in place, and report the time from upload to succeeded and "
        "the job's peak memory. Use PostgreSQL."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--streams", type=int, default=100_000, help="streams in the export")
        parser.add_argument("--files", type=int, default=8, help="JSON files in the zip")
        parser.add_argument("--tracks", type=int, default=8_000, help="distinct tracks")

    def handle(self, *args: Any, **options: Any) -> None:
        report = import_bench_run(
            streams=options["streams"],
            files=options["files"],
            tracks=options["tracks"],
            say=lambda line: self.stderr.write(line),
        )
        self.stdout.write(report)
