"""Response schemas of /api/v1/admin/."""

from __future__ import annotations

from ninja import Schema


class StatsOut(Schema):
    users: int
    active_users: int
    tracks: int
    artists: int
    albums: int
    genres: int
    taste_edges: int
