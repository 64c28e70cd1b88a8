"""The tooling app's one table: the marker of a completed ``seed_demo`` run."""

from __future__ import annotations

from django.db import models


class DemoDataset(models.Model):
    """The demo dataset ``seed_demo`` completed, and with which parameters (one row at most).

    Written only once a run has finished, in a table users cannot edit, so a demo user
    changing their profile or taste never makes a later ``seed_demo`` (``make run``) refuse.
    """

    params = models.CharField(max_length=200)
    completed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.params
