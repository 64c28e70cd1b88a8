"""``manage.py seed_demo``: load the deterministic demo dataset (idempotent)."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from tqdm import tqdm

from musicbud.errors import MusicbudError
from tooling.demo import (
    DEFAULT_EDGES,
    DEFAULT_SEED,
    DEFAULT_TRACKS,
    DEFAULT_USERS,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    demo_seed,
)


class _Progress:
    """A tqdm bar per stage on a terminal; otherwise a plain line about every 10%."""

    def __init__(self, out: OutputWrapper, *, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.stage: str | None = None
        self.bar: tqdm[Any] | None = None
        self.next_line = 0
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.next_line = 0
            if self.tty:
                self.bar = tqdm(total=total, desc=stage, unit="row")
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif done >= self.next_line or done == total:
            elapsed = time.monotonic() - self.started
            self.out.write(f"  {stage}: {done}/{total} ({elapsed:.1f}s)")
            self.next_line = done + max(1, total // 10)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Load the demo dataset: users, a skewed catalogue and taste edges (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="user accounts")
        parser.add_argument(
            "--tracks", "--items", type=int, default=DEFAULT_TRACKS, help="tracks (sizes the rest)"
        )
        parser.add_argument("--edges", type=int, default=DEFAULT_EDGES, help="taste edges")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
        parser.add_argument("--reset", action="store_true", help="delete existing demo data first")

    def handle(self, *args: Any, **options: Any) -> None:
        # tqdm draws on stderr; piped or captured output gets plain lines on stdout.
        progress = _Progress(self.stdout, tty=sys.stderr.isatty())
        started = time.monotonic()
        try:
            result = demo_seed(
                users=options["users"],
                tracks=options["tracks"],
                edges=options["edges"],
                seed=options["seed"],
                reset=options["reset"],
                progress=progress,
            )
        except MusicbudError as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()

        counts = ", ".join(f"{count} {name}" for name, count in result.counts.items())
        if result.created:
            elapsed = time.monotonic() - started
            self.stdout.write(self.style.SUCCESS(f"Demo data ready in {elapsed:.1f}s: {counts}."))
        else:
            self.stdout.write(f"Demo data already present (nothing changed): {counts}.")
        if result.plan.edges < options["edges"]:
            self.stdout.write(
                self.style.WARNING(f"--edges capped at {result.plan.edges}: no more fit.")
            )
        if settings.GRAPH_BACKEND == "neo4j":
            self.stdout.write("Project it into Neo4j with: python manage.py graph_rebuild")
        self.stdout.write(
            f"Log in as username {DEMO_USERNAME!r} with password {DEMO_PASSWORD!r} "
            "(every demo account shares that password)."
        )
