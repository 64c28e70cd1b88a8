"""A blend: a track list drawn from two friends' taste. What both have comes first, then each
side's favourites in turn (mine, theirs, mine, ...), each row saying whose taste it came from.
Ties are ordered by a hash of the day and the pair, so the list is stable within a day and
changes from one day to the next."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date

from asgiref.sync import sync_to_async
from django.utils import timezone

from graph.types import ItemRef
from musicbud.errors import PermissionDenied
from musicbud.models import ItemKind, Relation, TasteEdge, Track
from musicbud.relationships.visibility import (
    are_friends_read,
    taste_visible_read,
    visible_user_find_read,
)
from musicbud.selectors.catalogue import card_of, item_cards_get

BLEND_MAX = 100


@dataclass(frozen=True, slots=True)
class BlendRow:
    track: ItemRef
    source: str  # me | them | both


def _favourites(user_id: int) -> dict[int, tuple[int, int, int]]:
    """Each of the user's tracks with its (top rank or a large number, -plays, liked first)
    key: ranked tracks first by rank, then the most played, then liked ones."""
    keys: dict[int, list[int]] = {}
    rows = TasteEdge.objects.filter(user_id=user_id, kind=ItemKind.TRACK).values_list(
        "track_id", "relation", "rank", "play_count"
    )
    for track, relation, rank, plays in rows:
        key = keys.setdefault(int(track), [10_000, 0, 1])
        if relation == Relation.TOP and rank is not None:
            key[0] = min(key[0], rank)
        elif relation == Relation.PLAYED:
            key[1] = -(plays or 0)
        elif relation == Relation.LIKE:
            key[2] = 0
    return {track: (k[0], k[1], k[2]) for track, k in keys.items()}


def _day_hash(day: date, low: int, high: int, track: int) -> str:
    return hashlib.sha256(f"{day.isoformat()}:{low}:{high}:{track}".encode()).hexdigest()


def _blend(*, user_id: int, username: str, limit: int) -> list[BlendRow]:
    other = visible_user_find_read(viewer_id=user_id, username=username)
    if other.pk == user_id or not are_friends_read(user_id, other.pk):
        raise PermissionDenied(
            f"A blend is for friends: befriend {other.username}", code="not_friends"
        )
    if not taste_visible_read(viewer_id=user_id, owner_id=other.pk):  # nobody: not even friends
        raise PermissionDenied("This person keeps their taste to themselves", code="taste_hidden")
    low, high = sorted((user_id, other.pk))
    day = timezone.now().date()
    mine, theirs = _favourites(user_id), _favourites(other.pk)

    def order(favourites: dict[int, tuple[int, int, int]], track: int) -> tuple[object, ...]:
        return (*favourites[track], _day_hash(day, low, high, track))

    both = sorted(
        set(mine) & set(theirs),
        key=lambda t: (min(mine[t], theirs[t]), _day_hash(day, low, high, t)),
    )
    only_mine = sorted(set(mine) - set(theirs), key=lambda t: order(mine, t))
    only_theirs = sorted(set(theirs) - set(mine), key=lambda t: order(theirs, t))
    rows: list[tuple[int, str]] = [(t, "both") for t in both]
    for index in range(max(len(only_mine), len(only_theirs))):
        if index < len(only_mine):
            rows.append((only_mine[index], "me"))
        if index < len(only_theirs):
            rows.append((only_theirs[index], "them"))
    rows = rows[:limit]
    tracks = {
        pk: ItemRef(kind=ItemKind.TRACK, public_id=public_id, name=name)
        for pk, public_id, name in Track.objects.filter(pk__in=[t for t, _ in rows]).values_list(
            "pk", "public_id", "name"
        )
    }
    return [BlendRow(track=tracks[t], source=source) for t, source in rows if t in tracks]


async def blend_get(*, user_id: int, username: str, limit: int) -> list[BlendRow]:
    """Up to ``limit`` tracks (their cards) from my friend's taste and mine; NotFound as for
    an unknown user across a block, PermissionDenied (``not_friends``) unless we are friends."""
    rows = await sync_to_async(_blend)(
        user_id=user_id, username=username, limit=max(1, min(limit, BLEND_MAX))
    )
    cards = await item_cards_get(row.track for row in rows)
    return [replace(row, track=card_of(cards, row.track)) for row in rows]
