"""Install the graph projection's constraints and indexes (safe to run any number of times)."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from graph.connection import async_driver_close, graph_configured
from graph.schema import graph_labels_install


async def _install() -> dict[str, bool]:
    try:
        return await graph_labels_install()
    finally:
        await async_driver_close()


class Command(BaseCommand):
    help = "Install the Neo4j constraints and indexes of the graph projection (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_configured():
            raise CommandError("NEO4J_URL is not set: there is no graph store to install into")
        report = asyncio.run(_install())
        for name, created in report.items():
            self.stdout.write(f"{name}: {'created' if created else 'already present'}")
        count = sum(report.values())
        self.stdout.write(
            self.style.SUCCESS(f"{count} created, {len(report) - count} already present")
        )
