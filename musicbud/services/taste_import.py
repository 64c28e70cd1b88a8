"""Import of a taste document (likes, top items, plays) in one all-or-nothing transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from musicbud.errors import Conflict, InvalidInput
from musicbud.kinds import ITEM_MODELS
from musicbud.models import (
    Album,
    Artist,
    CatalogueItem,
    EdgeSource,
    ItemKind,
    Relation,
    Track,
    User,
)
from musicbud.services.taste_batch import WantedEdge, taste_edges_apply


@dataclass(frozen=True, slots=True)
class ImportEntry:
    """One line of the document: which item (external id and/or name) and the edge to set."""

    section: str
    index: int
    relation: str
    kind: str
    name: str | None = None
    artist: str | None = None  # tracks and albums: tells same-named items apart
    provider: str | None = None
    external_id: str | None = None
    rank: int | None = None
    play_count: int | None = None
    last_played_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    section: str
    index: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    items_created: int = 0
    items_matched: int = 0
    edges_created: int = 0
    edges_updated: int = 0
    edges_removed: int = 0
    skipped: list[SkippedEntry] = field(default_factory=list)


class _Resolver:
    """Finds or creates the catalogue item of each entry, remembering what it resolved so
    an item named twice in one document is created once."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.by_external: dict[tuple[str, str, str], CatalogueItem] = {}
        self.by_name: dict[tuple[str, str, str], CatalogueItem] = {}
        self.seen: set[tuple[str, int]] = set()  # (kind, id) of items already reported

    def resolve(self, entry: ImportEntry) -> CatalogueItem:
        model = ITEM_MODELS[ItemKind(entry.kind)]
        manager = model._default_manager
        item: CatalogueItem | None = None
        created = False
        ext_key = (
            (entry.kind, entry.provider, entry.external_id)
            if entry.provider and entry.external_id
            else None
        )
        name_key = (
            (entry.kind, entry.name.casefold(), (entry.artist or "").casefold())
            if entry.name
            else None
        )
        if ext_key:
            item = (
                self.by_external.get(ext_key)
                or manager.filter(**{f"{entry.provider}_id": entry.external_id}).first()
            )
        if item is None and name_key:
            item = self.by_name.get(name_key) or self._by_name(entry, model)
            if item is not None and ext_key and not getattr(item, f"{entry.provider}_id"):
                # Matched by name: remember the provider id it was given (it is not taken,
                # the lookup by it found nothing).
                setattr(item, f"{entry.provider}_id", entry.external_id)
                item.save(update_fields=[f"{entry.provider}_id", "updated_at"])
        if item is None and entry.name:
            fields: dict[str, Any] = {"name": entry.name}
            if ext_key:
                fields[f"{entry.provider}_id"] = entry.external_id
            item = manager.create(**fields)
            created = True
            if entry.artist and isinstance(item, Track | Album):
                item.artists.add(self._artist(entry.artist))
        if item is None:
            raise InvalidInput(
                f"{entry.section}[{entry.index}]: no {entry.kind} with {entry.provider} id "
                f"{entry.external_id!r}, and no name to create it with",
                code="import_unresolved_item",
                details={"section": entry.section, "index": entry.index},
            )
        if ext_key:
            self.by_external[ext_key] = item
        if name_key:
            self.by_name[name_key] = item
        if (entry.kind, item.pk) not in self.seen:
            self.seen.add((entry.kind, item.pk))
            if created:
                self.report.items_created += 1
            else:
                self.report.items_matched += 1
        return item

    def _by_name(self, entry: ImportEntry, model: type[CatalogueItem]) -> CatalogueItem | None:
        """The item of that name (and artist); several without an artist is ambiguous: an
        import must not attach someone's taste to an arbitrary namesake."""
        candidates: QuerySet[Any] = model._default_manager.filter(name__iexact=entry.name)
        if entry.artist and model in (Track, Album):
            # Tracks and albums both have ``artists``; the base type does not know it.
            candidates = candidates.filter(artists__name__iexact=entry.artist).distinct()
        found = list(candidates.order_by("id")[:2])
        if len(found) > 1 and not entry.artist:
            raise InvalidInput(
                f"{entry.section}[{entry.index}]: several {entry.kind}s are named "
                f"{entry.name!r}; give the artist or a provider id",
                code="import_ambiguous_item",
                details={"section": entry.section, "index": entry.index},
            )
        return found[0] if found else None

    def _artist(self, name: str) -> Artist:
        key = (ItemKind.ARTIST.value, name.casefold(), "")
        known = self.by_name.get(key)
        if isinstance(known, Artist):
            return known
        artist = Artist.objects.filter(name__iexact=name).order_by("id").first()
        if artist is None:
            artist = Artist.objects.create(name=name)
            self.report.items_created += 1
            self.seen.add((ItemKind.ARTIST.value, artist.pk))
        self.by_name[key] = artist
        return artist


# Tries of one import that lost a race to create an item or an edge (see taste_import).
IMPORT_ATTEMPTS = 3


async def taste_import(*, user: User, entries: list[ImportEntry]) -> ImportReport:
    """Apply every entry or none: any unresolvable entry rolls the whole import back.

    An entry repeating an earlier one (same relation and item) is skipped and reported. The
    ``top`` entries of a kind replace the user's top list of that kind (ranks are a list's
    positions: mixing two lists would put two items at one rank). The edges are written in
    bulk (``taste_edges_apply``): a few statements whatever the document's size.

    Two imports running at once may both create the same new item (or edge): the one that
    commits second hits the unique constraint, rolls back whole and runs again, now
    matching what the other created. A 409 only if that keeps happening.
    """
    return await sync_to_async(_import, thread_sensitive=True)(user=user, entries=entries)


def _import(*, user: User, entries: list[ImportEntry]) -> ImportReport:
    for _ in range(IMPORT_ATTEMPTS):
        try:
            return _import_once(user=user, entries=entries)
        except IntegrityError:
            continue
    raise Conflict(
        "The catalogue changed under this import several times; send it again",
        code="import_conflict",
    )


def _import_once(*, user: User, entries: list[ImportEntry]) -> ImportReport:
    report = ImportReport()
    resolver = _Resolver(report)
    applied: dict[tuple[str, str, int], ImportEntry] = {}
    wanted: list[WantedEdge] = []
    with transaction.atomic():
        for entry in entries:
            item = resolver.resolve(entry)
            edge_key = (entry.relation, entry.kind, item.pk)
            first = applied.get(edge_key)
            if first is not None:
                report.skipped.append(
                    SkippedEntry(
                        section=entry.section,
                        index=entry.index,
                        reason=f"same item as {first.section}[{first.index}]",
                    )
                )
                continue
            applied[edge_key] = entry
            wanted.append(
                WantedEdge(
                    relation=Relation(entry.relation).value,
                    kind=ItemKind(entry.kind).value,
                    item=item,
                    rank=entry.rank,
                    play_count=entry.play_count,
                    last_played_at=entry.last_played_at,
                )
            )
        top_kinds = {kind for relation, kind, _ in applied if relation == Relation.TOP}
        batch = taste_edges_apply(
            user=user,
            source=EdgeSource.IMPORT,
            wanted=wanted,
            replace_top_kinds=top_kinds,
            update_any_source=True,
        )
    report.edges_created = batch.total("added")
    report.edges_updated = batch.total("updated") + batch.total("unchanged")
    report.edges_removed = batch.total("removed")
    return report
