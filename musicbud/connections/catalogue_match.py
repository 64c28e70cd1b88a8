"""Find or create, set-based, the catalogue rows of what a provider describes: by the provider's
id, then by name, created when new; a few queries per kind and chunk, whatever the number of
entries, and nothing written for rows already as they should be."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from django.db.models.functions import Lower

from musicbud.connections.providers.base import CatalogueEntry
from musicbud.kinds import ITEM_MODELS, MATCH_ORDER
from musicbud.models import Album, Artist, CatalogueItem, ItemKind, Track

CHUNK = 1000
T = TypeVar("T")
EntryKey = tuple[str, str, str, str]  # kind, "id" | "name", id or casefolded name, artist


def entry_key(entry: CatalogueEntry) -> EntryKey:
    if entry.provider_id:
        return (entry.kind, "id", entry.provider_id, "")
    artist = entry.artists[0].name.casefold() if entry.artists else ""
    return (entry.kind, "name", entry.name.casefold(), artist)


def _chunks(rows: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


class CatalogueMatcher:
    """Resolves entries of one provider; ``resolve`` returns the row of each entry key."""

    def __init__(self, *, provider: str) -> None:
        self.column = f"{provider}_id"
        self.rows: dict[EntryKey, CatalogueItem] = {}
        self.created = 0

    def resolve(self, entries: Iterable[CatalogueEntry]) -> dict[EntryKey, CatalogueItem]:
        by_kind: dict[str, dict[EntryKey, CatalogueEntry]] = defaultdict(dict)
        genre_names: dict[EntryKey, CatalogueEntry] = {}

        def collect(entry: CatalogueEntry) -> None:
            key = entry_key(entry)
            known = by_kind[entry.kind].get(key)
            if known is None:
                by_kind[entry.kind][key] = entry
            elif (entry.genres and not known.genres) or (entry.images and not known.images):
                # The same artist as a track's simplified reference and as a full object.
                by_kind[entry.kind][key] = replace(
                    known,
                    genres=known.genres or entry.genres,
                    images=known.images or entry.images,
                )
            for artist in entry.artists:
                collect(artist)
            if entry.album is not None:
                collect(entry.album)
            for genre in entry.genres:
                named = CatalogueEntry(kind=ItemKind.GENRE, name=genre)
                genre_names.setdefault(entry_key(named), named)

        for entry in entries:
            collect(entry)
        for key, genre in genre_names.items():
            by_kind[ItemKind.GENRE].setdefault(key, genre)
        # Linked rows first: albums need their artists, tracks their album.
        for kind in MATCH_ORDER:
            self._resolve_kind(kind, by_kind.get(kind, {}))
        self._link(by_kind)
        return self.rows

    # --- one kind ------------------------------------------------------------------------

    def _fields(self, kind: str) -> tuple[str, ...]:
        """What matching reads and may fill (never the whole row)."""
        fields = ("id", "public_id", "name", "images", self.column)
        return (*fields, "album_id") if kind == ItemKind.TRACK else fields

    def _model(self, kind: str) -> type[CatalogueItem]:
        return ITEM_MODELS[kind]

    def _resolve_kind(self, kind: str, entries: dict[EntryKey, CatalogueEntry]) -> None:
        if not entries:
            return
        model = self._model(kind)
        manager = model._default_manager
        has_column = kind != ItemKind.GENRE
        found: dict[EntryKey, CatalogueItem] = {}
        if has_column:
            ids = [key[2] for key in entries if key[1] == "id"]
            for chunk in _chunks(ids):
                query = manager.filter(**{f"{self.column}__in": chunk})
                for row in query.only(*self._fields(kind)):
                    found[(kind, "id", getattr(row, self.column), "")] = row
        missing = [key for key in entries if key not in found]
        found.update(self._by_name(kind, model, {key: entries[key] for key in missing}))
        self._refresh(kind, found, entries)
        self.rows.update(found)
        new = [key for key in entries if key not in found]
        self._create(kind, model, {key: entries[key] for key in new})

    def _by_name(
        self, kind: str, model: type[CatalogueItem], entries: dict[EntryKey, CatalogueEntry]
    ) -> dict[EntryKey, CatalogueItem]:
        """Rows of the same name (and artist, for tracks and albums), lowest id first. An
        entry with a provider id never takes a row carrying another id of that provider."""
        if not entries:
            return {}
        names = sorted({entry.name.casefold() for entry in entries.values()})
        candidates: dict[str, list[CatalogueItem]] = defaultdict(list)
        for chunk in _chunks(names):
            query: Any = model._default_manager.annotate(lname=Lower("name"))
            for row in query.filter(lname__in=chunk).order_by("id"):
                candidates[row.lname].append(row)
        artists_of = self._artist_names(kind, [r.pk for rows in candidates.values() for r in rows])
        taken: set[int] = set()
        matched: dict[EntryKey, CatalogueItem] = {}
        for key, entry in entries.items():
            wanted = {artist.name.casefold() for artist in entry.artists}
            for row in candidates.get(entry.name.casefold(), []):
                if entry.provider_id and (
                    row.pk in taken or (kind != ItemKind.GENRE and getattr(row, self.column))
                ):
                    continue  # another item of this provider
                linked = kind in (ItemKind.TRACK, ItemKind.ALBUM)
                if wanted and linked and not wanted & artists_of.get(row.pk, set()):
                    continue
                matched[key] = row
                if entry.provider_id:
                    taken.add(row.pk)
                break
        return matched

    def _artist_names(self, kind: str, ids: list[int]) -> dict[int, set[str]]:
        if kind not in (ItemKind.TRACK, ItemKind.ALBUM) or not ids:
            return {}
        through: Any = (Track if kind == ItemKind.TRACK else Album).artists.through
        owner = f"{kind}_id"
        names: dict[int, set[str]] = defaultdict(set)
        for chunk in _chunks(ids):
            rows = through.objects.filter(**{f"{owner}__in": chunk}).annotate(
                lname=Lower("artist__name")
            )
            for owner_id, name in rows.values_list(owner, "lname"):
                names[owner_id].add(name)
        return names

    def _refresh(
        self,
        kind: str,
        found: dict[EntryKey, CatalogueItem],
        entries: dict[EntryKey, CatalogueEntry],
    ) -> None:
        """Fill what a matched row lacks (this provider's id, images); changes nothing else."""
        changed: dict[int, CatalogueItem] = {}
        fields: set[str] = set()
        for key, row in found.items():
            entry = entries[key]
            if kind != ItemKind.GENRE and entry.provider_id and not getattr(row, self.column):
                setattr(row, self.column, entry.provider_id)
                changed[row.pk] = row
                fields.add(self.column)
            if entry.images and not row.images:
                row.images = [image.as_json() for image in entry.images]
                changed[row.pk] = row
                fields.add("images")
        if changed:
            self._model(kind)._default_manager.bulk_update(
                list(changed.values()), sorted(fields), batch_size=500
            )

    def _create(
        self, kind: str, model: type[CatalogueItem], entries: dict[EntryKey, CatalogueEntry]
    ) -> None:
        if not entries:
            return
        rows: dict[EntryKey, CatalogueItem] = {}
        for key, entry in entries.items():
            fields: dict[str, Any] = {
                "name": entry.name[:300],
                "images": [image.as_json() for image in entry.images],
            }
            if kind != ItemKind.GENRE and entry.provider_id:
                fields[self.column] = entry.provider_id
            if kind == ItemKind.TRACK:
                fields["duration_ms"] = entry.duration_ms
                if entry.album is not None:
                    fields["album"] = self.rows.get(entry_key(entry.album))
            if kind == ItemKind.ALBUM:
                fields["release_year"] = entry.release_year
            rows[key] = model(**fields)
        with_id = {key: row for key, row in rows.items() if key[1] == "id"}
        by_name = {key: row for key, row in rows.items() if key[1] == "name"}
        manager = model._default_manager
        # Another sync may create the same provider ids meanwhile: keep theirs, read back ours.
        manager.bulk_create(list(with_id.values()), batch_size=CHUNK, ignore_conflicts=True)
        ids = [key[2] for key in with_id]
        for chunk in _chunks(ids):
            query = manager.filter(**{f"{self.column}__in": chunk})
            for row in query.only(*self._fields(kind)):
                self.rows[(kind, "id", getattr(row, self.column), "")] = row
        created = manager.bulk_create(list(by_name.values()), batch_size=CHUNK)
        for key, row in zip(by_name, created, strict=True):
            self.rows[key] = row
        self.created += len(rows)

    # --- links ---------------------------------------------------------------------------

    def _link(self, by_kind: dict[str, dict[EntryKey, CatalogueEntry]]) -> None:
        """Track and album artists, artist genres and a track's album, where missing."""
        wanted: dict[Any, set[tuple[int, int]]] = defaultdict(set)
        albums_to_set: dict[int, tuple[Track, int]] = {}
        links: tuple[tuple[str, Any], ...] = (
            (ItemKind.TRACK, Track.artists.through),
            (ItemKind.ALBUM, Album.artists.through),
        )
        for kind, through in links:
            for key, entry in by_kind.get(kind, {}).items():
                row = self.rows[key]
                for artist in entry.artists:
                    wanted[through].add((row.pk, self.rows[entry_key(artist)].pk))
                if isinstance(row, Track) and entry.album is not None and row.album_id is None:
                    albums_to_set[row.pk] = (row, self.rows[entry_key(entry.album)].pk)
        for key, entry in by_kind.get(ItemKind.ARTIST, {}).items():
            for genre in entry.genres:
                genre_row = self.rows[entry_key(CatalogueEntry(kind=ItemKind.GENRE, name=genre))]
                wanted[Artist.genres.through].add((self.rows[key].pk, genre_row.pk))
        columns: dict[Any, tuple[str, str]] = {
            Track.artists.through: ("track_id", "artist_id"),
            Album.artists.through: ("album_id", "artist_id"),
            Artist.genres.through: ("artist_id", "genre_id"),
        }
        for through, pairs in wanted.items():
            owner, other = columns[through]
            owners = sorted({pair[0] for pair in pairs})
            existing: set[tuple[int, int]] = set()
            for chunk in _chunks(owners):
                existing.update(
                    through._default_manager.filter(**{f"{owner}__in": chunk}).values_list(
                        owner, other
                    )
                )
            missing = sorted(pairs - existing)
            through._default_manager.bulk_create(
                [through(**{owner: a, other: b}) for a, b in missing],
                batch_size=CHUNK,
                ignore_conflicts=True,
            )
        if albums_to_set:
            tracks = []
            for track, album_id in albums_to_set.values():
                track.album_id = album_id
                tracks.append(track)
            Track.objects.bulk_update(tracks, ["album"], batch_size=500)
