"""``manage.py bench``: the load benchmark (``tooling.benchmark``); not part of the tests."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from tooling.benchmark.runner import Options, run

# Unset options take Options' defaults.
NUMBERS = ("seconds", "warmup_seconds", "connections", "port")


class Command(BaseCommand):
    help = (
        "Start the production server (gunicorn, 1 uvicorn worker) on loopback, drive the hot "
        "endpoints with wrk (or a Python load generator) and compare with Django's stock "
        "ASGI handler."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--seconds", type=int, help="per scenario (default 15)")
        parser.add_argument("--warmup-seconds", type=int, help="default 3")
        parser.add_argument("--connections", type=int, help="default 64")
        parser.add_argument(
            "--port",
            type=int,
            help="default 8106; the stock server uses the next one, the FastAPI peer the one after",
        )
        parser.add_argument(
            "--no-stock", action="store_true", help="skip the stock-handler comparison"
        )
        parser.add_argument("--no-peer", action="store_true", help="skip the FastAPI peer")
        parser.add_argument(
            "--scenarios",
            default="",
            help=(
                "comma-separated subset of: liveness,profile,legacy-profile,buds,writes "
                "(default: all)"
            ),
        )
        parser.add_argument("--log-dir", type=Path, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [name.strip() for name in options["scenarios"].split(",") if name.strip()]
        given = {name: options[name] for name in NUMBERS if options[name] is not None}
        if options["log_dir"] is not None:
            given["log_dir"] = options["log_dir"]
        if chosen:
            given["scenarios"] = tuple(chosen)
        report = run(
            Options(stock=not options["no_stock"], peer=not options["no_peer"], **given),
            say=lambda line: self.stderr.write(line),
        )
        self.stdout.write(report)
