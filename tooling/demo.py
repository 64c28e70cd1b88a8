"""The demo dataset: a deterministic, skewed, clustered catalogue with users and taste edges,
bulk-written (edges bypass the taste services: rebuild the projection afterwards)."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Model

from graph.stats import taste_stats_refresh
from musicbud.errors import Conflict, InvalidInput
from musicbud.models import (
    Album,
    Artist,
    EdgeSource,
    Genre,
    ItemKind,
    Relation,
    TasteEdge,
    Track,
    User,
)
from tooling.models import DemoDataset

DEMO_USERNAME = "demo"
# Documented in the README and printed by seed_demo; shared by every demo account.
DEMO_PASSWORD = "musicbud-demo-2024"  # noqa: S105 - a published demo credential, dev data only
DEMO_EMAIL_DOMAIN = "demo.musicbud.invalid"
DEMO_EXTERNAL_PREFIX = "demo-"

DEFAULT_USERS = 300
DEFAULT_TRACKS = 3000
DEFAULT_EDGES = 30_000
DEFAULT_SEED = 42

BATCH_SIZE = 5000
# Fixed so the same seed gives the same rows whenever it is run.
PLAYED_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
ZIPF_EXPONENT = 1.1
TOP_LIMIT = {ItemKind.TRACK: 50, ItemKind.ARTIST: 50, ItemKind.ALBUM: 50, ItemKind.GENRE: 10}
RELATION_SHARE = {Relation.LIKE: 0.45, Relation.PLAYED: 0.40, Relation.TOP: 0.15}
KIND_SHARE = {
    ItemKind.TRACK: 0.55,
    ItemKind.ARTIST: 0.25,
    ItemKind.ALBUM: 0.12,
    ItemKind.GENRE: 0.08,
}
IN_CLUSTER_SHARE = 0.85
KINDS = (ItemKind.GENRE, ItemKind.ARTIST, ItemKind.ALBUM, ItemKind.TRACK)

GENRE_NAMES = (
    "Indie Rock", "Hip Hop", "Pop", "Techno", "Jazz", "Soul", "Metal", "Folk", "House",
    "R&B", "Punk", "Reggae", "Classical", "Ambient", "Drum and Bass", "Country", "Blues",
    "K-Pop", "Afrobeats", "Shoegaze", "Trap", "Disco", "Bossa Nova", "Grime", "Synthwave",
    "Dub", "Garage", "Emo", "Latin", "Trip Hop",
)  # fmt: skip
FIRST_NAMES = (
    "Maya", "Leo", "Amara", "Noah", "Sofia", "Kenji", "Zara", "Luca", "Ines", "Omar",
    "Freya", "Tariq", "Nina", "Mateo", "Aisha", "Felix", "Yara", "Hugo", "Priya", "Elias",
    "Chloe", "Ravi", "Lena", "Diego", "Mina", "Jonas", "Ada", "Kofi", "Iris", "Sami",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Becker",
    "Rossi", "Kowalski", "Nguyen", "Mensah", "Ortega", "Fischer", "Sato", "Dubois",
    "Kaur", "Petrov", "Costa", "Abebe", "Larsen", "Romero", "Ivanova", "Osei",
)  # fmt: skip
WORDS_A = (
    "Velvet", "Neon", "Silver", "Midnight", "Golden", "Electric", "Paper", "Crystal", "Hollow",
    "Wild", "Static", "Lunar", "Broken", "Quiet", "Burning", "Glass", "Faded", "Northern",
    "Violet", "Restless", "Sunday", "Analog", "Distant", "Secret",
)  # fmt: skip
WORDS_B = (
    "Echo", "Harbor", "Parade", "Garden", "Signal", "Machine", "River", "Tide", "Season",
    "Mirror", "Horizon", "Engine", "Orchard", "Satellite", "Canyon", "Lantern", "Ghost",
    "Motel", "Avenue", "Comet", "Fever", "Circuit", "Island", "Tower",
)  # fmt: skip

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """How many rows of each kind a seed_demo run produces."""

    users: int
    genres: int
    artists: int
    albums: int
    tracks: int
    edges: int
    seed: int

    @property
    def marker(self) -> str:
        # Recorded in DemoDataset when a run completes (and shown as the demo account's bio).
        return (
            f"Demo account (seed_demo: seed={self.seed} users={self.users} "
            f"tracks={self.tracks} edges={self.edges})."
        )

    def counts(self) -> dict[str, int]:
        return {
            "users": self.users,
            "genres": self.genres,
            "artists": self.artists,
            "albums": self.albums,
            "tracks": self.tracks,
            "edges": self.edges,
        }


@dataclass(frozen=True, slots=True)
class DemoSeedResult:
    plan: DemoPlan
    created: bool  # False when the same dataset was already complete
    counts: dict[str, int]


def demo_plan(*, users: int, tracks: int, edges: int, seed: int) -> DemoPlan:
    """Size every table from the three requested sizes; ``edges`` is capped at what fits."""
    if users < 1 or tracks < 1 or edges < 0:
        raise InvalidInput("users and tracks must be at least 1, edges at least 0")
    genres = min(len(GENRE_NAMES), max(3, tracks // 100))
    artists = max(genres, tracks // 12)
    albums = max(artists, tracks // 5)
    sizes = {ItemKind.GENRE: genres, ItemKind.ARTIST: artists, ItemKind.ALBUM: albums}
    sizes[ItemKind.TRACK] = tracks
    per_user = sum(_bucket_capacity(relation, kind, sizes) for relation, kind in _buckets())
    return DemoPlan(
        users=users,
        genres=genres,
        artists=artists,
        albums=albums,
        tracks=tracks,
        edges=min(edges, per_user * users),
        seed=seed,
    )


def demo_counts() -> dict[str, int]:
    """Rows of the demo dataset currently in the database."""
    prefix = {"spotify_id__startswith": DEMO_EXTERNAL_PREFIX}
    return {
        "users": User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").count(),
        "genres": Genre.objects.filter(**prefix).count(),
        "artists": Artist.objects.filter(**prefix).count(),
        "albums": Album.objects.filter(**prefix).count(),
        "tracks": Track.objects.filter(**prefix).count(),
        "edges": TasteEdge.objects.filter(source=EdgeSource.DEMO).count(),
    }


def demo_reset() -> None:
    """Delete the demo dataset (and only it)."""
    with transaction.atomic():
        # Edges first with a plain DELETE; the cascade from users would load every row.
        DemoDataset.objects.all().delete()
        TasteEdge.objects.filter(source=EdgeSource.DEMO).delete()
        User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()
        for model in (Track, Album, Artist, Genre):
            model.objects.filter(spotify_id__startswith=DEMO_EXTERNAL_PREFIX).delete()


def demo_seed(
    *,
    users: int = DEFAULT_USERS,
    tracks: int = DEFAULT_TRACKS,
    edges: int = DEFAULT_EDGES,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoSeedResult:
    """Make the database hold exactly the demo dataset for these parameters.

    A second run with the same parameters changes nothing. An interrupted run is completed
    (every insert ignores rows that already exist). Demo data from other parameters is
    refused unless ``reset`` is set, so two datasets never mix.
    """
    plan = demo_plan(users=users, tracks=tracks, edges=edges, seed=seed)
    report = progress or _no_progress
    if reset:
        demo_reset()
    completed = DemoDataset.objects.values_list("params", flat=True).first()
    if completed is not None:
        # A finished dataset is left as it is, whatever its users have done with it since.
        if completed != plan.marker:
            raise Conflict(
                f"The database holds demo data from other parameters ({completed}); "
                "run seed_demo --reset to replace it."
            )
        return DemoSeedResult(plan=plan, created=False, counts=demo_counts())
    existing = demo_counts()
    if any(existing.values()):
        # Demo rows without a completed run: an interrupted run, completed below.
        marker = (
            User.objects.filter(email=_email(DEMO_USERNAME)).values_list("bio", flat=True).first()
        )
        if marker != plan.marker:
            raise Conflict(
                "The database holds demo data from other parameters "
                f"({marker or 'unknown'}); run seed_demo --reset to replace it."
            )
    dataset = _Dataset(plan)
    with transaction.atomic():
        ids = _write_catalogue(dataset, report)
        user_ids = _write_users(dataset, report)
    _write_edges(dataset, user_ids, ids, report)
    counts = demo_counts()
    if counts != plan.counts():
        raise Conflict(
            f"Demo data does not match the plan after seeding: {counts} != {plan.counts()} "
            "(a non-demo row probably holds a demo username); run seed_demo --reset."
        )
    # The edges were bulk-inserted past the taste services, which keep the similarity
    # statistics (library sizes, item holders) exact on every write: recompute them once.
    taste_stats_refresh()
    DemoDataset.objects.update_or_create(pk=1, defaults={"params": plan.marker})
    return DemoSeedResult(plan=plan, created=True, counts=counts)


# --- generation -----------------------------------------------------------------------------


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def _buckets() -> Iterator[tuple[Relation, ItemKind]]:
    return itertools.product(RELATION_SHARE, KIND_SHARE)


def _bucket_capacity(relation: Relation, kind: ItemKind, sizes: dict[ItemKind, int]) -> int:
    return min(sizes[kind], TOP_LIMIT[kind]) if relation is Relation.TOP else sizes[kind]


def _email(username: str) -> str:
    return f"{username}@{DEMO_EMAIL_DOMAIN}"


def _external_id(kind: str, index: int) -> str:
    return f"{DEMO_EXTERNAL_PREFIX}{kind}-{index:07d}"


class _Pool:
    """Items sampled with Zipf weights by global popularity rank (rank 0 = most popular)."""

    def __init__(self, items: Sequence[int], rank: Sequence[int]) -> None:
        self.items = sorted(items, key=rank.__getitem__)
        total = 0.0
        self.cumulative: list[float] = []
        for item in self.items:
            total += 1.0 / (rank[item] + 1) ** ZIPF_EXPONENT
            self.cumulative.append(total)

    def draw(self, rng: random.Random) -> int:
        position = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
        return self.items[min(position, len(self.items) - 1)]


@dataclass
class _Dataset:
    """The whole demo dataset as plain values, derived from the plan's seed alone."""

    plan: DemoPlan
    rng: random.Random = field(init=False)
    names: dict[ItemKind, list[str]] = field(init=False)
    artist_genres: list[list[int]] = field(init=False)
    album_artist: list[int] = field(init=False)
    album_years: list[int] = field(init=False)
    track_album: list[int] = field(init=False)
    track_artists: list[list[int]] = field(init=False)
    track_durations: list[int] = field(init=False)
    pools: dict[ItemKind, _Pool] = field(init=False)
    genre_pools: dict[ItemKind, list[_Pool | None]] = field(init=False)
    usernames: list[str] = field(init=False)
    display_names: list[str] = field(init=False)
    genre_pool: _Pool = field(init=False)

    def __post_init__(self) -> None:
        plan = self.plan
        # Reproducible demo data, not security: a seeded PRNG is the point.
        self.rng = rng = random.Random(plan.seed)  # noqa: S311
        sizes = self.sizes
        rank = {kind: self._popularity(sizes[kind]) for kind in KINDS}
        self.genre_pool = genre_pool = _Pool(range(plan.genres), rank[ItemKind.GENRE])

        self.artist_genres = []
        for _ in range(plan.artists):
            genres = [genre_pool.draw(rng)]
            if rng.random() < 0.3:
                second = genre_pool.draw(rng)
                if second != genres[0]:
                    genres.append(second)
            self.artist_genres.append(genres)
        artist_pool = _Pool(range(plan.artists), rank[ItemKind.ARTIST])
        # Every artist has an album; the rest go to artists by popularity.
        self.album_artist = [
            index if index < plan.artists else artist_pool.draw(rng) for index in range(plan.albums)
        ]
        self.album_years = [rng.randint(1965, 2024) for _ in range(plan.albums)]
        album_pool = _Pool(range(plan.albums), rank[ItemKind.ALBUM])
        self.track_album = [
            index if index < plan.albums else album_pool.draw(rng) for index in range(plan.tracks)
        ]
        self.track_artists = []
        for album in self.track_album:
            artists = [self.album_artist[album]]
            if rng.random() < 0.1:  # a featured artist
                featured = artist_pool.draw(rng)
                if featured != artists[0]:
                    artists.append(featured)
            self.track_artists.append(artists)
        self.track_durations = [rng.randint(95_000, 420_000) for _ in range(plan.tracks)]

        self.names = {
            ItemKind.GENRE: list(GENRE_NAMES[: plan.genres]),
            ItemKind.ARTIST: [self._artist_name() for _ in range(plan.artists)],
            ItemKind.ALBUM: [self._title() for _ in range(plan.albums)],
            ItemKind.TRACK: [self._title() for _ in range(plan.tracks)],
        }
        self.usernames, self.display_names = [DEMO_USERNAME], ["Demo Listener"]
        for index in range(1, plan.users):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            self.usernames.append(f"{first}.{last}{index}".lower())
            self.display_names.append(f"{first} {last}")

        item_genres = self._item_genres()
        self.pools = {kind: _Pool(range(sizes[kind]), rank[kind]) for kind in KINDS}
        self.genre_pools = {}
        for kind in KINDS:
            members: list[list[int]] = [[] for _ in range(plan.genres)]
            for item, genres in enumerate(item_genres[kind]):
                for genre in genres:
                    members[genre].append(item)
            self.genre_pools[kind] = [
                _Pool(items, rank[kind]) if items else None for items in members
            ]

    @property
    def sizes(self) -> dict[ItemKind, int]:
        plan = self.plan
        return {
            ItemKind.GENRE: plan.genres,
            ItemKind.ARTIST: plan.artists,
            ItemKind.ALBUM: plan.albums,
            ItemKind.TRACK: plan.tracks,
        }

    def _popularity(self, size: int) -> list[int]:
        """A random popularity rank for each item index."""
        order = list(range(size))
        self.rng.shuffle(order)
        rank = [0] * size
        for position, item in enumerate(order):
            rank[item] = position
        return rank

    def _artist_name(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if rng.random() < 0.5:
            return f"The {rng.choice(WORDS_A)} {rng.choice(WORDS_B)}s"
        return f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)}"

    def _title(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return f"{rng.choice(WORDS_B)} of the {rng.choice(WORDS_A)} {rng.choice(WORDS_B)}"
        return f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)}"

    def _item_genres(self) -> dict[ItemKind, list[list[int]]]:
        album_genres = [self.artist_genres[artist] for artist in self.album_artist]
        return {
            ItemKind.GENRE: [[genre] for genre in range(self.plan.genres)],
            ItemKind.ARTIST: self.artist_genres,
            ItemKind.ALBUM: album_genres,
            ItemKind.TRACK: [album_genres[album] for album in self.track_album],
        }

    def edge_budgets(self) -> list[int]:
        """Edges per user: a heavy-tailed activity share of the total, exactly summing to it."""
        rng, plan = self.rng, self.plan
        weights = [rng.lognormvariate(0.0, 0.9) for _ in range(plan.users)]
        weights[0] = max(weights)  # the demo account is an active listener
        capacity = sum(
            _bucket_capacity(relation, kind, self.sizes) for relation, kind in _buckets()
        )
        total_weight = sum(weights)
        quotas = [plan.edges * weight / total_weight for weight in weights]
        budgets = [min(capacity, math.floor(quota)) for quota in quotas]
        left = plan.edges - sum(budgets)
        order = sorted(range(plan.users), key=lambda user: (budgets[user] - quotas[user], user))
        while left > 0:
            for user in order:
                if left == 0:
                    break
                if budgets[user] < capacity:
                    budgets[user] += 1
                    left -= 1
        return budgets

    def user_edges(
        self, user: int, budget: int
    ) -> Iterator[tuple[Relation, ItemKind, int, int | None, int | None, datetime | None]]:
        """``budget`` distinct edges of one user: (relation, kind, item, rank, plays, last)."""
        rng, sizes = self.rng, self.sizes
        cluster_count = 1 + (rng.random() < 0.6) + (rng.random() < 0.3)
        clusters = [self.genre_pool.draw(rng) for _ in range(cluster_count)]
        cluster_cumulative = list(itertools.accumulate([0.6, 0.3, 0.1][:cluster_count]))
        buckets = list(_buckets())
        weights = [RELATION_SHARE[r] * KIND_SHARE[k] for r, k in buckets]
        used: dict[tuple[Relation, ItemKind], set[int]] = {bucket: set() for bucket in buckets}
        cursor = dict.fromkeys(buckets, 0)
        for _ in range(budget):
            relation, kind = rng.choices(buckets, weights=weights)[0]
            taken = used[relation, kind]
            item = -1
            for _attempt in range(10):
                candidate = self._draw(rng, kind, clusters, cluster_cumulative)
                if candidate not in taken:
                    item = candidate
                    break
            if item < 0:  # rare: walk the popularity order for the next free item
                pool = self.pools[kind].items
                while pool[cursor[relation, kind]] in taken:
                    cursor[relation, kind] += 1
                item = pool[cursor[relation, kind]]
            taken.add(item)
            if len(taken) >= _bucket_capacity(relation, kind, sizes):
                weights[buckets.index((relation, kind))] = 0.0
            if relation is Relation.TOP:
                yield relation, kind, item, len(taken), None, None
            elif relation is Relation.PLAYED:
                plays = min(5000, int(rng.paretovariate(1.1) * 2))
                last = PLAYED_EPOCH - timedelta(seconds=rng.randrange(365 * 24 * 3600))
                yield relation, kind, item, None, plays, last
            else:
                yield relation, kind, item, None, None, None

    def _draw(
        self, rng: random.Random, kind: ItemKind, clusters: list[int], cumulative: list[float]
    ) -> int:
        if rng.random() < IN_CLUSTER_SHARE:
            genre = clusters[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
            if kind is ItemKind.GENRE:
                return genre
            pool = self.genre_pools[kind][genre]
            if pool is not None:
                return pool.draw(rng)
        return self.pools[kind].draw(rng)


# --- writing --------------------------------------------------------------------------------


def _bulk_insert(model: type[Model], rows: list[Any], report: ProgressCallback, stage: str) -> None:
    for start in range(0, len(rows), BATCH_SIZE):
        model._default_manager.bulk_create(rows[start : start + BATCH_SIZE], ignore_conflicts=True)
        report(stage, min(start + BATCH_SIZE, len(rows)), len(rows))


def _id_map(model: type[Model]) -> dict[int, int]:
    """Generation index -> primary key, read back by the deterministic external id."""
    start = len(DEMO_EXTERNAL_PREFIX) + len(model._meta.model_name or "") + 1
    return {
        int(external[start:]): pk
        for external, pk in model._default_manager.filter(
            spotify_id__startswith=DEMO_EXTERNAL_PREFIX
        ).values_list("spotify_id", "pk")
    }


def _write_catalogue(data: _Dataset, report: ProgressCallback) -> dict[ItemKind, list[int]]:
    models: dict[ItemKind, type[Genre | Artist | Album | Track]] = {
        ItemKind.GENRE: Genre,
        ItemKind.ARTIST: Artist,
        ItemKind.ALBUM: Album,
        ItemKind.TRACK: Track,
    }
    ids: dict[ItemKind, list[int]] = {}
    for kind in KINDS:
        rows: list[Any] = []
        for index, name in enumerate(data.names[kind]):
            values: dict[str, Any] = {"name": name, "spotify_id": _external_id(kind, index)}
            if kind is ItemKind.ALBUM:
                values["release_year"] = data.album_years[index]
            elif kind is ItemKind.TRACK:
                values["duration_ms"] = data.track_durations[index]
                # Albums are written before tracks (see KINDS), so their keys are known.
                values["album_id"] = ids[ItemKind.ALBUM][data.track_album[index]]
            rows.append(models[kind](**values))
        _bulk_insert(models[kind], rows, report, f"{kind}s")
        mapping = _id_map(models[kind])
        ids[kind] = [mapping[index] for index in range(len(rows))]
    genre_ids, artist_ids = ids[ItemKind.GENRE], ids[ItemKind.ARTIST]
    album_ids, track_ids = ids[ItemKind.ALBUM], ids[ItemKind.TRACK]

    # Many-to-many links refer to the primary keys read back above.
    links: list[tuple[type[Model], list[Any], str]] = [
        (
            Artist.genres.through,
            [
                Artist.genres.through(artist_id=artist_ids[a], genre_id=genre_ids[g])
                for a, genres in enumerate(data.artist_genres)
                for g in genres
            ],
            "artist genres",
        ),
        (
            Album.artists.through,
            [
                Album.artists.through(album_id=album_ids[b], artist_id=artist_ids[a])
                for b, a in enumerate(data.album_artist)
            ],
            "album artists",
        ),
        (
            Track.artists.through,
            [
                Track.artists.through(track_id=track_ids[t], artist_id=artist_ids[a])
                for t, artists in enumerate(data.track_artists)
                for a in artists
            ],
            "track artists",
        ),
    ]
    for through, rows, stage in links:
        _bulk_insert(through, rows, report, stage)
    return ids


def _write_users(data: _Dataset, report: ProgressCallback) -> list[int]:
    # Argon2 is slow on purpose: hash the shared demo password once for every account.
    password = make_password(DEMO_PASSWORD)
    joined = PLAYED_EPOCH - timedelta(days=400)
    rows = [
        User(
            username=username,
            email=_email(username),
            display_name=display_name,
            bio=data.plan.marker if index == 0 else "",
            password=password,
            date_joined=joined + timedelta(minutes=index),
        )
        for index, (username, display_name) in enumerate(
            zip(data.usernames, data.display_names, strict=True)
        )
    ]
    _bulk_insert(User, rows, report, "users")
    by_email = dict(
        User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").values_list("email", "pk")
    )
    missing = [name for name in data.usernames if _email(name) not in by_email]
    if missing:
        raise Conflict(
            f"Demo usernames are taken by other accounts: {', '.join(missing[:5])}; "
            "rename those accounts or run seed_demo --reset."
        )
    return [by_email[_email(name)] for name in data.usernames]


def _write_edges(
    data: _Dataset, user_ids: list[int], ids: dict[ItemKind, list[int]], report: ProgressCallback
) -> None:
    total = data.plan.edges
    done = 0
    batch: list[TasteEdge] = []
    for user, budget in enumerate(data.edge_budgets()):
        for relation, kind, item, rank, plays, last in data.user_edges(user, budget):
            batch.append(
                TasteEdge(
                    user_id=user_ids[user],
                    relation=relation,
                    kind=kind,
                    rank=rank,
                    play_count=plays,
                    last_played_at=last,
                    source=EdgeSource.DEMO,
                    **{f"{kind}_id": ids[kind][item]},
                )
            )
            if len(batch) >= BATCH_SIZE:
                _flush_edges(batch)
                done += len(batch)
                batch = []
                report("taste edges", done, total)
    if batch:
        _flush_edges(batch)
        done += len(batch)
        report("taste edges", done, total)


def _flush_edges(batch: list[TasteEdge]) -> None:
    # Each batch commits on its own: an interrupted run keeps its progress and resumes.
    with transaction.atomic():
        TasteEdge.objects.bulk_create(batch, ignore_conflicts=True)
