"""Response schemas of /api/v1/admin/."""

from __future__ import annotations

from ninja import Schema

from api import examples
from api.examples import answer_example


class StatsOut(Schema):
    model_config = answer_example(examples.STATS)

    users: int
    active_users: int
    tracks: int
    artists: int
    albums: int
    genres: int
    taste_edges: int
