"""``manage.py bench``: the load benchmark (config/PERFORMANCE.md); not part of the tests."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from musicbud.benchmark.runner import Options, run


class Command(BaseCommand):
    help = (
        "Start the production server (gunicorn, 1 uvicorn worker) on loopback, drive the hot "
        "endpoints with wrk (or a Python load generator) and compare with Django's stock "
        "ASGI handler."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        defaults = Options()
        parser.add_argument("--seconds", type=int, default=defaults.seconds)
        parser.add_argument("--warmup-seconds", type=int, default=defaults.warmup_seconds)
        parser.add_argument("--connections", type=int, default=defaults.connections)
        parser.add_argument(
            "--port", type=int, default=defaults.port, help="the stock server uses the next one"
        )
        parser.add_argument(
            "--no-stock", action="store_true", help="skip the stock-handler comparison"
        )
        parser.add_argument("--log-dir", type=Path, default=defaults.log_dir)

    def handle(self, *args: Any, **options: Any) -> None:
        report = run(
            Options(
                seconds=options["seconds"],
                warmup_seconds=options["warmup_seconds"],
                connections=options["connections"],
                port=options["port"],
                stock=not options["no_stock"],
                log_dir=options["log_dir"],
            ),
            say=lambda line: self.stderr.write(line),
        )
        self.stdout.write(report)
