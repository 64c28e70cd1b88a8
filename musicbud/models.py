"""The relational source of truth: users, the catalogue and taste edges."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

# The connections' models live in their slice, under this app's label: imported to register.
from musicbud.connections import models as connection_models  # noqa: F401
from musicbud.email_address import email_normalize, email_normalize_lenient

USERNAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{1,28}[A-Za-z0-9_])$"

username_validator = RegexValidator(
    regex=USERNAME_PATTERN,
    message=(
        "3-30 characters: letters, digits, '_', '.' or '-'; "
        "starting with a letter or digit and not ending with '.' or '-'."
    ),
    code="invalid_username",
)


class MusicbudUserManager(UserManager["User"]):
    """Looks users up case-insensitively, as the unique constraints compare them."""

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username__iexact=username)

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # The project's spelling (IDNA-mapped domain) wherever Django normalises: create_user,
        # createsuperuser, the admin's forms (through User.clean).
        return email_normalize_lenient(super().normalize_email(email))


class User(AbstractUser):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    username = models.CharField(
        max_length=30,
        unique=True,
        validators=[username_validator],
        help_text="3-30 characters: letters, digits, '_', '.' or '-'.",
        error_messages={"unique": "A user with that username already exists."},
    )
    email = models.EmailField(max_length=254)
    # When ``email`` was shown to be the person's (a verification link opened); None: not yet.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # An address the person asked to change to: it replaces ``email`` once verified.
    email_pending = models.EmailField(max_length=254, blank=True)
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField(max_length=500, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    # Free text ("Berlin"), shown on the profile; the apps already installed send and show it.
    location = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[MusicbudUserManager] = MusicbudUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        permissions = [("view_stats", "Can view service statistics")]

    def __str__(self) -> str:
        return self.username

    def clean(self) -> None:
        super().clean()  # normalises the email through the manager
        try:
            self.email = email_normalize(self.email)
        except ValidationError as exc:
            raise ValidationError({"email": exc.error_list}) from None


class Provider(models.TextChoices):
    SPOTIFY = "spotify", "Spotify"
    LASTFM = "lastfm", "Last.fm"
    YTMUSIC = "ytmusic", "YouTube Music"
    MAL = "mal", "MyAnimeList"


class CatalogueItem(models.Model):
    """Fields every catalogue item has: a public id, a name and per-provider external ids."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=300)
    spotify_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    lastfm_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    ytmusic_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    mal_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    # [{"url", "width", "height"}], widest first, as the provider that brought the item gave them.
    images = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Genre(CatalogueItem):
    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="genre_name_lower_idx")]


class Artist(CatalogueItem):
    genres = models.ManyToManyField(Genre, related_name="artists", blank=True)

    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="artist_name_lower_idx")]


class Album(CatalogueItem):
    artists = models.ManyToManyField(Artist, related_name="albums", blank=True)
    release_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="album_name_lower_idx")]


class Track(CatalogueItem):
    artists = models.ManyToManyField(Artist, related_name="tracks", blank=True)
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.SET_NULL, related_name="tracks"
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="track_name_lower_idx")]


class Anime(CatalogueItem):
    """An anime title (MyAnimeList's ``anime`` node: its id in ``mal_id``, its pictures)."""

    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="anime_name_lower_idx")]


class Manga(CatalogueItem):
    """A manga title (MyAnimeList's ``manga`` node: its id in ``mal_id``, its pictures)."""

    class Meta(CatalogueItem.Meta):
        indexes = [models.Index(Lower("name"), name="manga_name_lower_idx")]


class ItemKind(models.TextChoices):
    TRACK = "track", "Track"
    ARTIST = "artist", "Artist"
    ALBUM = "album", "Album"
    GENRE = "genre", "Genre"
    ANIME = "anime", "Anime"
    MANGA = "manga", "Manga"


def _item_matches_kind() -> models.Q:
    """Exactly the item column the kind names is set (the kind's value names its column)."""
    condition = models.Q()
    for kind in ItemKind.values:
        condition |= models.Q(
            kind=kind, **{f"{other}__isnull": other != kind for other in ItemKind.values}
        )
    return condition


class Relation(models.TextChoices):
    LIKE = "like", "Likes"
    TOP = "top", "Top item"
    PLAYED = "played", "Played"


class EdgeSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    IMPORT = "import", "Import"
    SPOTIFY = "spotify", "Spotify"
    LASTFM = "lastfm", "Last.fm"
    YTMUSIC = "ytmusic", "YouTube Music"
    MAL = "mal", "MyAnimeList"
    # A history upload of a service (musicbud/imports): ``<provider>_upload``, so that the
    # service's sync and disconnect (which touch only the source named after the provider)
    # never remove what an upload brought.
    SPOTIFY_UPLOAD = "spotify_upload", "Spotify history upload"
    YTMUSIC_UPLOAD = "ytmusic_upload", "YouTube Music history upload"
    DEMO = "demo", "Demo data"


class TasteEdge(models.Model):
    """A user likes / has as top (with rank) / played (with count) one catalogue item.

    The item is one of its foreign keys, one per item kind (musicbud/kinds.py) and named by
    ``kind``; the database checks that exactly that one is set, so every edge points at a real
    row.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="taste_edges")
    relation = models.CharField(max_length=8, choices=Relation.choices)
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    artist = models.ForeignKey(
        Artist, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    genre = models.ForeignKey(
        Genre, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    anime = models.ForeignKey(
        Anime, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    manga = models.ForeignKey(
        Manga, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    play_count = models.PositiveIntegerField(null=True, blank=True)
    last_played_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=32, choices=EdgeSource.choices, default=EdgeSource.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_item_matches_kind(),
                name="taste_edge_item_matches_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(relation=Relation.TOP, rank__isnull=False, rank__gte=1)
                | (~models.Q(relation=Relation.TOP) & models.Q(rank__isnull=True)),
                name="taste_edge_rank_only_for_top",
            ),
            models.CheckConstraint(
                condition=models.Q(relation=Relation.PLAYED, play_count__isnull=False)
                | (~models.Q(relation=Relation.PLAYED) & models.Q(play_count__isnull=True)),
                name="taste_edge_play_count_only_for_played",
            ),
            models.CheckConstraint(
                condition=models.Q(relation__in=Relation.values),
                name="taste_edge_relation_valid",
            ),
            *[
                models.UniqueConstraint(
                    fields=["user", "relation", field],
                    condition=models.Q(**{f"{field}__isnull": False}),
                    name=f"taste_edge_unique_user_{field}",
                )
                for field in ItemKind.values
            ],
        ]
        indexes = [
            models.Index(fields=["user", "relation", "kind"], name="taste_edge_user_idx"),
            *[
                models.Index(
                    fields=[field, "relation", "user"],
                    condition=models.Q(**{f"{field}__isnull": False}),
                    name=f"taste_edge_{field}_users_idx",
                )
                for field in ItemKind.values
            ],
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.relation} {self.kind}:{self.item_id}"

    @property
    def item_id(self) -> int | None:
        value: int | None = getattr(self, f"{self.kind}_id")
        return value


class TokenFamily(models.Model):
    """One login's chain of rotated refresh tokens: the truth about its tokens' validity.

    ``current_jti`` is the one refresh token of the family that may still be used; rotating
    it is a conditional UPDATE, so two concurrent refreshes cannot both win. The cache only
    copies the active/revoked state for the bearer hot path (``musicbud.token_store``).
    """

    id = models.UUIDField(primary_key=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    current_jti = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="token_family_user_idx")]
        verbose_name_plural = "token families"

    def __str__(self) -> str:
        return f"{self.user_id}:{self.id}"
