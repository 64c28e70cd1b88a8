"""``manage.py provider_sandbox``: the music services' stand-ins and runserver pointed at them."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tooling.sandbox import DEFAULT_STANDIN_PORT, provider_sandbox_run


class Command(BaseCommand):
    help = (
        "Serve like runserver, with Spotify and Last.fm replaced by local stand-ins (a small "
        "library each, no account or credentials): connect, sync and read the taste offline."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="runserver's address")
        parser.add_argument("--port", type=int, default=8000, help="runserver's port")
        parser.add_argument(
            "--standin-port",
            type=int,
            default=DEFAULT_STANDIN_PORT,
            help="the stand-ins' port on 127.0.0.1",
        )
        parser.add_argument(
            "--noreload", action="store_true", help="runserver without its auto-reloader"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = provider_sandbox_run(
            host=options["host"],
            port=options["port"],
            standin_port=options["standin_port"],
            say=self._say,
            runserver_args=("--noreload",) if options["noreload"] else (),
        )
        if status:
            raise CommandError(f"runserver exited with status {status}")

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()  # before runserver writes to the same output
