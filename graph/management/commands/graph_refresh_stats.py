"""Recompute the similarity statistics (library sizes, cell user counts, item holder counts)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from graph.models import CellPopulation, ItemPopularity, UserLibrary
from graph.stats import taste_stats_refresh


class Command(BaseCommand):
    help = (
        "Recompute the statistics the SQL graph backend scores with from the taste edges: run "
        "after loading edges without the taste services (seed_demo, bulk imports)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        taste_stats_refresh()
        self.stdout.write(
            self.style.SUCCESS(
                f"{UserLibrary.objects.count()} libraries, {CellPopulation.objects.count()} "
                f"cells, {ItemPopularity.objects.count()} items"
            )
        )
