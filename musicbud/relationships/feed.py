"""The friends' feed: my friends' new likes, new entries in their top lists, finished syncs
and finished history uploads (imports), newest first, from the friends whose
``taste_visible_to`` lets me see their taste. Computed from the taste edges, sync jobs and
import jobs themselves (their timestamps), keyset paged on (time, source, id) so new events
never shift a page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Q

from graph.cursor import cursor_decode, cursor_encode
from graph.types import ItemRef
from musicbud.connections.models import SyncJob, SyncStatus
from musicbud.errors import InvalidCursor
from musicbud.imports.models import ImportJob, ImportStatus
from musicbud.models import Relation, TasteEdge, User
from musicbud.relationships.models import Audience, PrivacySettings
from musicbud.relationships.services.friends import PersonView, person
from musicbud.relationships.visibility import friend_ids_read
from musicbud.selectors.catalogue import card_of, item_cards_get

# Sources in the keyset: at one instant, taste events come before syncs, syncs before imports.
EDGE, SYNC, IMPORT = 1, 0, -1


@dataclass(frozen=True, slots=True)
class FeedEvent:
    type: str  # like | top | sync | import
    at: datetime
    user: PersonView
    item: ItemRef | None
    rank: int | None
    added: dict[str, int] | None
    key: tuple[datetime, int, int]


def _after(cursor: str | None) -> tuple[datetime, int, int] | None:
    if not cursor:
        return None
    data = cursor_decode(cursor)
    try:
        return datetime.fromisoformat(str(data["t"])), int(data["s"]), int(data["i"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCursor from exc


def _below(field: str, source: int, after: tuple[datetime, int, int] | None) -> Q:
    """Rows of ``source`` whose (``field``, source, id) comes after the cursor, newest first."""
    if after is None:
        return Q()
    at, after_source, after_id = after
    below = Q(**{f"{field}__lt": at})
    if source < after_source:
        return below | Q(**{field: at})
    if source == after_source:
        return below | Q(**{field: at, "id__lt": after_id})
    return below


def _visible_friends(user_id: int) -> list[int]:
    friends = friend_ids_read(user_id=user_id)
    closed = set(
        PrivacySettings.objects.filter(
            user_id__in=friends, taste_visible_to=Audience.NOBODY
        ).values_list("user_id", flat=True)
    )
    return sorted(friends - closed)


def _added(counts: dict[str, Any]) -> dict[str, int]:
    added: dict[str, int] = {}
    for relation, kinds in counts.items():
        if isinstance(kinds, dict):
            total = sum(int(c.get("added", 0)) for c in kinds.values() if isinstance(c, dict))
            if total:
                added[relation] = total
    return added


def _feed(*, user_id: int, cursor: str | None, limit: int) -> tuple[list[FeedEvent], str | None]:
    after = _after(cursor)
    friends = _visible_friends(user_id)
    if not friends:
        return [], None
    people = {u.pk: person(u) for u in User.objects.filter(pk__in=friends, is_active=True)}
    edges = (
        TasteEdge.objects.filter(
            _below("created_at", EDGE, after),
            user_id__in=list(people),
            relation__in=(Relation.LIKE, Relation.TOP),
        )
        .select_related("track", "artist", "album", "genre")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    jobs = (
        SyncJob.objects.filter(
            _below("finished_at", SYNC, after),
            connection__user_id__in=list(people),
            status=SyncStatus.SUCCEEDED,
            finished_at__isnull=False,
        )
        .select_related("connection")
        .order_by("-finished_at", "-id")[: limit + 1]
    )
    imports = ImportJob.objects.filter(
        _below("finished_at", IMPORT, after),
        user_id__in=list(people),
        status=ImportStatus.SUCCEEDED,
        finished_at__isnull=False,
    ).order_by("-finished_at", "-id")[: limit + 1]
    events: list[FeedEvent] = []
    for edge in edges:
        item = getattr(edge, edge.kind)
        events.append(
            FeedEvent(
                type=edge.relation,
                at=edge.created_at,
                user=people[edge.user_id],
                item=ItemRef(kind=edge.kind, public_id=item.public_id, name=item.name),
                rank=edge.rank if edge.relation == Relation.TOP else None,
                added=None,
                key=(edge.created_at, EDGE, edge.pk),
            )
        )
    for job in jobs:
        assert job.finished_at is not None  # noqa: S101 - filtered above
        events.append(
            FeedEvent(
                type="sync",
                at=job.finished_at,
                user=people[job.connection.user_id],
                item=None,
                rank=None,
                added=_added(job.counts),
                key=(job.finished_at, SYNC, job.pk),
            )
        )
    for upload in imports:
        assert upload.finished_at is not None  # noqa: S101 - filtered above
        events.append(
            FeedEvent(
                type="import",
                at=upload.finished_at,
                user=people[upload.user_id],
                item=None,
                rank=None,
                added=_added(upload.changes),
                key=(upload.finished_at, IMPORT, upload.pk),
            )
        )
    events.sort(key=lambda e: e.key, reverse=True)
    page = events[:limit]
    next_cursor = None
    if len(events) > limit:
        at, source, pk = page[-1].key
        next_cursor = cursor_encode({"t": at.isoformat(), "s": source, "i": pk})
    return page, next_cursor


async def feed_get(
    *, user_id: int, cursor: str | None, limit: int
) -> tuple[list[FeedEvent], str | None]:
    """One page of my friends' feed (items with their cards) and the cursor of the next (None
    on the last)."""
    events, next_cursor = await sync_to_async(_feed)(user_id=user_id, cursor=cursor, limit=limit)
    cards = await item_cards_get(event.item for event in events if event.item is not None)
    return [
        replace(event, item=card_of(cards, event.item)) if event.item is not None else event
        for event in events
    ], next_cursor
