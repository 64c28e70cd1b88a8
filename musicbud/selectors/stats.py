"""Service statistics for staff: counts of users, catalogue items and taste edges."""

from __future__ import annotations

from typing import TypedDict

from asgiref.sync import sync_to_async

from musicbud.models import Album, Artist, Genre, TasteEdge, Track, User


class ServiceStats(TypedDict):
    users: int
    active_users: int
    tracks: int
    artists: int
    albums: int
    genres: int
    taste_edges: int


async def service_stats() -> ServiceStats:
    """The seven counts, in one thread hop."""
    return await sync_to_async(_counts, thread_sensitive=True)()


def _counts() -> ServiceStats:
    return ServiceStats(
        users=User.objects.count(),
        active_users=User.objects.filter(is_active=True).count(),
        tracks=Track.objects.count(),
        artists=Artist.objects.count(),
        albums=Album.objects.count(),
        genres=Genre.objects.count(),
        taste_edges=TasteEdge.objects.count(),
    )
