"""The friends' feed: my friends' new likes, new entries in their top lists, finished syncs
and finished history uploads (imports), newest first, from the friends whose
``taste_visible_to`` lets me see their taste. Computed from the taste edges, sync jobs and
import jobs themselves (their timestamps), keyset paged on (time, source, id) so new events
never shift a page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Q

from graph.cursor import keyset_cursor_decode, keyset_cursor_encode
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


# An event's place in the feed: (time, source, id), newest (largest) first.
Key = tuple[datetime, int, int]


@dataclass(frozen=True, slots=True)
class _Position:
    """Where a cursor points: an event's key, and which way to read from it (forward: the
    older events after it; backward: the newer ones just before it)."""

    key: Key
    backward: bool


def _position(cursor: str | None) -> _Position | None:
    """The position a cursor names (None without one); a cursor without a direction (issued
    before cursors had one) reads forward."""
    if not cursor:
        return None
    data, backward = keyset_cursor_decode(cursor)
    try:
        key = (datetime.fromisoformat(str(data["t"])), int(data["s"]), int(data["i"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCursor from exc
    return _Position(key=key, backward=backward)


def _cursor(event: FeedEvent, *, backward: bool = False) -> str:
    at, source, pk = event.key
    return keyset_cursor_encode({"t": at.isoformat(), "s": source, "i": pk}, backward=backward)


def _below(field: str, source: int, after: Key | None) -> Q:
    """Rows of ``source`` whose (``field``, source, id) comes after the key, newest first
    (they are older)."""
    if after is None:
        return Q()
    at, after_source, after_id = after
    below = Q(**{f"{field}__lt": at})
    if source < after_source:
        return below | Q(**{field: at})
    if source == after_source:
        return below | Q(**{field: at, "id__lt": after_id})
    return below


def _above(field: str, source: int, before: Key) -> Q:
    """Rows of ``source`` whose (``field``, source, id) comes before the key, newest first
    (they are newer)."""
    at, before_source, before_id = before
    above = Q(**{f"{field}__gt": at})
    if source > before_source:
        return above | Q(**{field: at})
    if source == before_source:
        return above | Q(**{field: at, "id__gt": before_id})
    return above


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


# Which rows of a source a read takes: (field, source) -> filter.
Where = Callable[[str, int], Q]


def _sources(people: dict[int, PersonView], where: Where) -> tuple[Any, Any, Any]:
    """The three sources' rows (taste edges, syncs, imports) ``where`` lets through, unordered."""
    edges = TasteEdge.objects.filter(
        where("created_at", EDGE),
        user_id__in=list(people),
        relation__in=(Relation.LIKE, Relation.TOP),
    ).select_related("track", "artist", "album", "genre")
    jobs = SyncJob.objects.filter(
        where("finished_at", SYNC),
        connection__user_id__in=list(people),
        status=SyncStatus.SUCCEEDED,
        finished_at__isnull=False,
    ).select_related("connection")
    imports = ImportJob.objects.filter(
        where("finished_at", IMPORT),
        user_id__in=list(people),
        status=ImportStatus.SUCCEEDED,
        finished_at__isnull=False,
    )
    return edges, jobs, imports


def _events(
    people: dict[int, PersonView], where: Where, *, count: int, newest_first: bool
) -> list[FeedEvent]:
    """The ``count`` events ``where`` lets through that come first, newest first or oldest
    first."""
    edges, jobs, imports = _sources(people, where)
    sign = "-" if newest_first else ""
    events: list[FeedEvent] = []
    for edge in edges.order_by(f"{sign}created_at", f"{sign}id")[:count]:
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
    for job in jobs.order_by(f"{sign}finished_at", f"{sign}id")[:count]:
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
    for upload in imports.order_by(f"{sign}finished_at", f"{sign}id")[:count]:
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
    events.sort(key=lambda e: e.key, reverse=newest_first)
    return events[:count]


def _feed(
    *, user_id: int, cursor: str | None, limit: int
) -> tuple[list[FeedEvent], str | None, str | None]:
    """One page (newest first) and the cursors of the next page (older) and the previous one
    (newer), None where no event lies that way; the first page has no previous one."""
    position = _position(cursor)
    friends = _visible_friends(user_id)
    if not friends:
        return [], None, None
    people = {u.pk: person(u) for u in User.objects.filter(pk__in=friends, is_active=True)}
    if position is not None and position.backward:
        at = position.key
        # The events just newer than the cursor's, nearest first; the page is newest first.
        nearest = _events(
            people,
            lambda field, source: _above(field, source, at),
            count=limit + 1,
            newest_first=False,
        )
        page = list(reversed(nearest[:limit]))
        # What follows the page is at least the event the cursor was taken from.
        return (
            page,
            _cursor(page[-1]) if page else None,
            _cursor(page[0], backward=True) if len(nearest) > limit else None,
        )
    after = position.key if position is not None else None
    events = _events(
        people,
        lambda field, source: _below(field, source, after),
        count=limit + 1,
        newest_first=True,
    )
    page = events[:limit]
    next_cursor = _cursor(page[-1]) if len(events) > limit else None
    previous_cursor = None
    if position is not None and page:
        first = page[0].key
        if any(
            rows.exists()
            for rows in _sources(people, lambda field, source: _above(field, source, first))
        ):
            previous_cursor = _cursor(page[0], backward=True)
    return page, next_cursor, previous_cursor


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[FeedEvent]
    next_cursor: str | None
    previous_cursor: str | None


async def feed_get(*, user_id: int, cursor: str | None, limit: int) -> FeedPage:
    """One page of my friends' feed (items with their cards), newest first, and the cursors of
    the next page (older; None on the last) and the previous one (newer, read backward; None
    on the first)."""
    events, next_cursor, previous_cursor = await sync_to_async(_feed)(
        user_id=user_id, cursor=cursor, limit=limit
    )
    cards = await item_cards_get(event.item for event in events if event.item is not None)
    return FeedPage(
        events=[
            replace(event, item=card_of(cards, event.item)) if event.item is not None else event
            for event in events
        ],
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
    )
