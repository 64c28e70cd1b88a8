"""``manage.py chat_bench``: chat fan-out latency and memory per idle socket; not a test."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from tooling.chat_bench import Options, run


class Command(BaseCommand):
    help = (
        "Start the production server (gunicorn, 2 uvicorn workers) on loopback, fan 20 messages "
        "out to 40 and to 500 sockets (latency p50/p95, lost, out of order) and measure the "
        "workers' memory per 1,000 idle sockets. Needs REDIS_URL."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8300)
        parser.add_argument("--messages", type=int, default=20)
        parser.add_argument("--listeners", type=int, nargs="+", default=[40, 500])
        parser.add_argument("--idle-sockets", type=int, default=1000)
        parser.add_argument(
            "--base-sockets", type=int, default=500, help="open before the memory baseline"
        )
        parser.add_argument("--log-dir", type=Path, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = Options(
            port=options["port"],
            messages=options["messages"],
            listeners=tuple(options["listeners"]),
            idle_sockets=options["idle_sockets"],
            base_sockets=options["base_sockets"],
        )
        if options["log_dir"] is not None:
            chosen.log_dir = options["log_dir"]
        self.stdout.write(run(chosen, say=lambda line: self.stderr.write(line)))
