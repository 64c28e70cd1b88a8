"""The legacy shapes: users and items carry ``uid`` (32 hex digits), lists come in the legacy
page envelope, buds as ``{bud, similarity_score}``. Another user never shows an email."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from ninja import Schema
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    RootModel,
    field_validator,
)

from api import examples
from api.auth.schemas import USERNAME_DOCUMENTED
from api.connections.schemas import ConnectionOut
from api.examples import answer_example, page_example
from api.users.schemas import ProfileUpdateIn
from musicbud.connections.providers.registry import PROVIDER_NAMES
from musicbud.models import Album, CatalogueItem, Provider, Track
from musicbud.selectors.catalogue import item_kind
from musicbud.selectors.profile import ProfileData
from musicbud.selectors.users import UserCard

T = TypeVar("T")


def _uuid_in(value: object) -> object:
    # The legacy ids are 32 hex digits; the dashed form is accepted too (uuid.UUID does both).
    return uuid.UUID(value.strip()) if isinstance(value, str) else value


Uid = Annotated[
    uuid.UUID,
    BeforeValidator(_uuid_in),
    PlainSerializer(lambda value: value.hex, return_type=str),
    Field(description="A public id: 32 hex digits (the dashed form is accepted on input)."),
]


# --- answers ------------------------------------------------------------------------------


class LegacyPage(Schema, Generic[T]):
    """The legacy page envelope (``?page=N&page_size=M``: 10 per page by default, 100 at
    most); ``next`` / ``previous`` are absolute URLs, or null; the rows are under ``data``
    and, for the app's list parsers, again under ``results``."""

    model_config = page_example(examples.legacy_page)

    count: int = Field(description="How many there are in all.")
    next: str | None
    previous: str | None
    data: list[T]
    results: list[T] = Field(description="The same rows as data.")
    message: str
    code: int
    successful: bool


class ImageOut(Schema):
    url: str
    height: int | None
    width: int | None


class ItemOut(Schema):
    model_config = answer_example(examples.LEGACY_ITEM)

    uid: Uid
    name: str
    kind: str = Field(description="track, artist, album or genre")
    artist_name: str | None = Field(description="Tracks and albums: the first artist credited.")
    album_name: str | None = Field(description="Tracks: their album.")
    images: list[ImageOut] = Field(description="The item's images, where the catalogue has any.")
    spotify_id: str | None
    lastfm_id: str | None
    ytmusic_id: str | None


class TopItemOut(ItemOut):
    model_config = answer_example(examples.LEGACY_TOP_ITEM)

    rank: int


class PlayedItemOut(ItemOut):
    model_config = answer_example(examples.LEGACY_PLAYED_ITEM)

    play_count: int


class UserOut(Schema):
    """Another user: public fields only."""

    model_config = answer_example(examples.LEGACY_USER)

    uid: Uid
    username: str
    display_name: str
    bio: str
    avatar_url: str


class UserAnswerOut(Schema):
    model_config = answer_example(examples.LEGACY_USER_ANSWER)

    message: str
    code: int
    successful: bool
    data: UserOut


class MyProfileOut(UserOut):
    model_config = answer_example(examples.LEGACY_MY_PROFILE)

    email: str
    first_name: str
    last_name: str
    location: str


class BudOut(Schema):
    model_config = answer_example(examples.LEGACY_BUD)

    bud: UserOut
    similarity_score: float = Field(description="The score the bud ranking gives this person.")


class BudProfileData(Schema):
    bud: UserOut
    similarity_score: float


class BudPersonOut(Schema):
    uid: Uid
    username: str
    display_name: str


class BudRequestData(Schema):
    id: str
    sender: BudPersonOut
    recipient: BudPersonOut
    status: str
    created_at: datetime


class BudRequestOut(Schema):
    """The answer to a bud request (``data`` null once a friend is removed)."""

    model_config = answer_example(
        {
            "message": "Bud request sent.",
            "code": 201,
            "successful": True,
            "data": {
                "id": "3c2e1f0a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
                "sender": {
                    "uid": examples.MAYA_ID.replace("-", ""),
                    "username": "maya",
                    "display_name": "Maya",
                },
                "recipient": {
                    "uid": examples.LEO_ID.replace("-", ""),
                    "username": "leo",
                    "display_name": "Leo",
                },
                "status": "pending",
                "created_at": "2026-12-07T09:00:00Z",
            },
        }
    )

    message: str
    code: int
    successful: bool
    data: BudRequestData | None


class BudSearchOut(RootModel[LegacyPage[UserOut] | BudRequestOut]):
    """A search's page, or (with ``userId``) a bud request's answer."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.legacy_page(examples.LEGACY_USER)]}
    )


class BudProfileOut(Schema):
    model_config = answer_example(examples.LEGACY_BUD_PROFILE)

    message: str
    code: int
    successful: bool
    data: BudProfileData


class LoginOut(Schema):
    model_config = answer_example(examples.LEGACY_LOGIN)

    success: bool
    message: str
    access_token: str
    refresh_token: str
    access: str = Field(description="The access token again, under the name the app reads.")
    refresh: str = Field(description="The refresh token again.")
    expires_in: int


class RegisterOut(Schema):
    model_config = answer_example(examples.LEGACY_REGISTER)

    success: bool
    message: str
    user_id: str = Field(description="The new user's uid.")


class AccessOut(Schema):
    model_config = answer_example(examples.LEGACY_ACCESS)

    access: str
    access_token: str
    expires_in: int


class MessageOut(Schema):
    model_config = answer_example(examples.LEGACY_MESSAGE)

    message: str


class AuthorizationLinkData(Schema):
    authorization_link: str


class AuthorizationLinkOut(Schema):
    model_config = answer_example(examples.LEGACY_AUTHORIZATION_LINK)

    message: str
    code: int
    successful: bool
    data: AuthorizationLinkData


# --- inputs (from the query string, a JSON body or a form, merged) ---------------------------
# Unknown fields are ignored, as the legacy server ignored them: the apps send more than is
# read (a photo, page numbers in the body).


class LegacyInput(Schema):
    """An operation's input. ``needs``: at least one of these fields must be given (and not
    null), or the input is a 422 naming the first (``needs_message`` says what to send);
    ``legacy_input`` checks it and the OpenAPI document states it."""

    needs: ClassVar[tuple[str, ...]] = ()
    needs_message: ClassVar[str] = ""
    # Credentials and tokens: read from the body only, never from the query string (URLs
    # are written to proxies' and servers' logs).
    body_only: ClassVar[bool] = False
    # The fields it needs are strings whose blank value counts as not given.
    needs_not_blank: ClassVar[bool] = False

    def given(self) -> Any:
        """The first field it needs that was given (``legacy_input`` checked there is one)."""
        return next(getattr(self, name) for name in self.needs if getattr(self, name) is not None)

    def lacks_what_it_needs(self) -> bool:
        return bool(self.needs) and all(getattr(self, name) is None for name in self.needs)

    @classmethod
    def missing_message(cls) -> str:
        first, *others = cls.needs
        alternatives = f" (or {' or '.join(others)})" if others else ""
        return cls.needs_message or f"Send {first}{alternatives}"


class ProfileSetIn(ProfileUpdateIn):
    """v1's profile change, its rules included."""

    model_config = ConfigDict(extra="ignore")


class LoginIn(LegacyInput):
    body_only = True

    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class RegisterIn(LegacyInput):
    """v1's registration, its documented rules included."""

    body_only = True

    username: str = Field(max_length=30, json_schema_extra=USERNAME_DOCUMENTED)
    email: str = Field(max_length=254)
    password: str = Field(
        max_length=128, json_schema_extra={"minLength": 8}, description="At least 8 characters."
    )


class LogoutIn(LegacyInput):
    """The refresh token is optional: the access token names the login."""

    body_only = True

    refresh: str | None = Field(None, max_length=4096)
    refresh_token: str | None = Field(None, max_length=4096, description="Same as refresh.")

    @property
    def token(self) -> str | None:
        return self.refresh or self.refresh_token


class RefreshIn(LogoutIn):
    needs = ("refresh", "refresh_token")
    needs_message = "Send the refresh token as refresh (or refresh_token)"


class BudIn(LegacyInput):
    """Someone, by uid (``bud_id``) or username (``username``, or as the app also sends it,
    under ``bud_id``)."""

    needs = ("bud_id", "username")

    bud_id: str | None = Field(
        None,
        min_length=1,
        max_length=36,
        description="A uid (32 hex digits, or the dashed form), or a username.",
    )
    username: str | None = Field(None, min_length=1, max_length=30)

    def who(self) -> dict[str, Any]:
        """The lookup ``public_profile_get`` and the bud selectors take. A username is at most
        30 characters, so a ``bud_id`` that reads as a uid is never one."""
        if self.bud_id is None:
            return {"public_id": None, "username": self.username}
        try:
            return {"public_id": uuid.UUID(self.bud_id.strip()), "username": None}
        except ValueError:
            return {"public_id": None, "username": self.bud_id.strip()}


# Inline in the body's schema (the legacy document states each body without $defs).
BudAction = Literal["accept", "reject", "remove"]


class SearchIn(LegacyInput):
    """A search (``query`` or ``q``), or with ``userId`` a bud (friend) request: alone it asks
    that person, with ``action`` it accepts or rejects their request or removes the friend."""

    needs = ("query", "q", "userId")
    # The search's message: a bud request is the newer app's variant.
    needs_message = "Send query (or q)"
    needs_not_blank = True  # surrounding spaces are trimmed

    query: str | None = Field(None, max_length=80)
    q: str | None = Field(None, max_length=80, description="Same as query.")
    userId: Uid | None = Field(  # noqa: N815 - the name the app sends
        None, description="A bud request to (or an answer about) the user of this uid."
    )
    action: BudAction | None = Field(
        None, description="With userId: accept or reject their request, or remove the friend."
    )

    @field_validator("query", "q")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def text(self) -> str:
        return self.query or self.q or ""


class ArtistIdIn(LegacyInput):
    needs = ("artist_id", "artistId")

    artist_id: Uid | None = None
    artistId: Uid | None = None  # noqa: N815 - the name the app sends


class TrackIdIn(LegacyInput):
    needs = ("track_id", "trackId")

    track_id: Uid | None = None
    trackId: Uid | None = None  # noqa: N815 - the name the app sends


class GenreIdIn(LegacyInput):
    needs = ("genre_id", "genreId")

    genre_id: Uid | None = None
    genreId: Uid | None = None  # noqa: N815 - the name the app sends


class AlbumIdIn(LegacyInput):
    needs = ("album_id", "albumId")

    album_id: Uid | None = None
    albumId: Uid | None = None  # noqa: N815 - the name the app sends


# The item of ``bud/<kind>``: ``<kind>_id``, or as the app spells it, ``<kind>Id``.
ITEM_ID_INPUTS: dict[str, type[LegacyInput]] = {
    "artist": ArtistIdIn,
    "track": TrackIdIn,
    "genre": GenreIdIn,
    "album": AlbumIdIn,
}


# Every provider of the registry, as the app names it (``service=spotify``).
if TYPE_CHECKING:
    ServiceName = str
else:
    ServiceName = Literal[PROVIDER_NAMES]
_SERVICES = f"{', '.join(PROVIDER_NAMES[:-1])} or {PROVIDER_NAMES[-1]}"


class ServiceIn(LegacyInput):
    needs = ("service",)
    needs_message = f"Send service ({_SERVICES})"

    service: ServiceName | None = Field(None, description=f"The streaming service: {_SERVICES}.")


class LikesUpdateIn(Schema):
    service: ServiceName | None = Field(
        None, description="The streaming service to sync; left out, every connected one."
    )


# --- building the answers -----------------------------------------------------------------------


def item_data(item: CatalogueItem, **extra: Any) -> dict[str, Any]:
    """An item in the legacy shape; its artists (and a track's album) must be loaded."""
    artists = list(item.artists.all()) if isinstance(item, Track | Album) else []
    album = item.album if isinstance(item, Track) else None
    return {
        "uid": item.public_id,
        "name": item.name,
        "kind": item_kind(item),
        "artist_name": artists[0].name if artists else None,
        "album_name": album.name if album is not None else None,
        "images": [
            {
                "url": image.get("url", ""),
                "height": image.get("height"),
                "width": image.get("width"),
            }
            # A track shows its album's cover (Spotify gives tracks no images of their own).
            for image in item.images or (album.images if album is not None else [])
            if isinstance(image, dict) and image.get("url")
        ],
        **{f"{provider}_id": getattr(item, f"{provider}_id") for provider in Provider.values},
        **extra,
    }


def user_data(user: UserCard | ProfileData) -> dict[str, Any]:
    return {
        "uid": user.public_id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_url": user.avatar_url,
    }


def my_profile_data(profile: ProfileData) -> dict[str, Any]:
    return {
        **user_data(profile),
        "email": profile.email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "location": profile.location,
    }


class ConnectionAnswerOut(Schema):
    model_config = answer_example(examples.LEGACY_CONNECTION_ANSWER)

    message: str
    code: int
    successful: bool
    data: ConnectionOut


class SyncAnswerOut(Schema):
    model_config = answer_example(examples.LEGACY_SYNC_ANSWER)

    message: str
    code: int
    successful: bool
    data: ConnectionOut | list[ConnectionOut] = Field(
        description="The service's connection; every connected one when none was named."
    )
