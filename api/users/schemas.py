"""Schemas of the users area."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from ninja import Schema
from pydantic import Field, field_validator

from api import examples
from api.examples import answer_example
from api.pagination import PageParams
from api.schemas import InputSchema
from musicbud.display_text import display_text_normalize, display_text_problem

_http_url = URLValidator(schemes=["http", "https"])


class TasteCountsOut(Schema):
    likes: dict[str, int] = Field(description="Liked items per kind.")
    top: dict[str, int] = Field(description="Top items per kind.")
    played: dict[str, int] = Field(description="Played items per kind.")


class PublicProfileOut(Schema):
    """What anyone signed in may see of a user."""

    model_config = answer_example(examples.PUBLIC_PROFILE)

    id: UUID
    username: str
    display_name: str
    bio: str
    avatar_url: str
    joined_at: datetime
    taste_counts: TasteCountsOut | None = Field(
        description="How many items they like, rank and play, per kind; null when their "
        "`taste_visible_to` leaves me out (never null on my own profile)."
    )

    @staticmethod
    def resolve_id(obj: Any) -> UUID:
        return obj.public_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_joined_at(obj: Any) -> datetime:
        return obj.date_joined  # type: ignore[no-any-return]


class MyProfileOut(PublicProfileOut):
    """My own profile: the public one plus private fields."""

    model_config = answer_example(examples.MY_PROFILE)

    email: str
    first_name: str
    last_name: str
    location: str


class ProfileUpdateIn(InputSchema):
    """Fields to change; omitted fields stay as they are, "" or null clears one."""

    display_name: str | None = Field(None, max_length=80, description='"" or null clears it.')
    bio: str | None = Field(None, max_length=500, description='"" or null clears it.')
    avatar_url: str | None = Field(
        None,
        max_length=500,
        description='An http(s) URL of the avatar image; "" or null clears it.',
    )
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    location: str | None = Field(None, max_length=100, description='Free text, e.g. "Berlin".')

    @field_validator("display_name", "bio", "avatar_url", "first_name", "last_name", "location")
    @classmethod
    def _strip(cls, value: str | None) -> str:
        # Validators run on given values only: an explicit null clears the field, an
        # omitted field (the default None) leaves it alone.
        return value.strip() if value is not None else ""

    @field_validator("first_name", "last_name", "location")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must not contain control characters")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_text(cls, value: str) -> str:
        # The rule of every name that identifies someone (channel names too).
        if (problem := display_text_problem(value)) is not None:
            raise ValueError(problem)
        return display_text_normalize(value)

    @field_validator("avatar_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value:
            try:
                _http_url(value)
            except DjangoValidationError as exc:
                raise ValueError("must be an http:// or https:// URL") from exc
        return value


class UserSummaryOut(Schema):
    """Another user as lists show them: never their email or any private field."""

    model_config = answer_example(examples.USER_SUMMARY)

    id: UUID
    username: str
    display_name: str
    avatar_url: str

    @staticmethod
    def resolve_id(obj: Any) -> UUID:
        return obj.public_id  # type: ignore[no-any-return]


class UserSearchParams(PageParams):
    q: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        description=(
            "Part of a username or display name (case-insensitive). Left out: everyone, "
            "by username A to Z."
        ),
    )
