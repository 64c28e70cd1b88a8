"""Request and response schemas of /api/v1/auth/."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field, JsonValue

from api import examples
from api.examples import answer_example
from api.schemas import InputSchema
from musicbud.models import USERNAME_PATTERN, User

# What the service checks, stated in the document (surrounding whitespace is trimmed). The
# service validates the three fields together, so one 422 lists every bad field.
USERNAME_DOCUMENTED: dict[str, JsonValue] = {"pattern": rf"^\s*{USERNAME_PATTERN[1:-1]}\s*$"}


class RegisterIn(InputSchema):
    username: str = Field(max_length=30, json_schema_extra=USERNAME_DOCUMENTED)
    email: str = Field(max_length=254)
    password: str = Field(
        max_length=128, json_schema_extra={"minLength": 8}, description="At least 8 characters."
    )


class LoginIn(InputSchema):
    username: str = Field(max_length=254, description="The username or the email address")
    password: str = Field(max_length=128)
    session: bool = Field(default=False, description="Also start a Django session (cookie)")


class RefreshIn(InputSchema):
    refresh_token: str = Field(max_length=4096)


class LogoutIn(InputSchema):
    refresh_token: str | None = Field(default=None, max_length=4096)


class PasswordChangeIn(InputSchema):
    old_password: str = Field(max_length=128)
    new_password: str = Field(max_length=128)


class CsrfOut(Schema):
    model_config = answer_example(examples.CSRF)

    csrf_token: str


class TokenPairOut(Schema):
    model_config = answer_example(examples.TOKEN_PAIR)

    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int
    refresh_expires_in: int


class PublicUserOut(Schema):
    model_config = answer_example(examples.PUBLIC_USER)

    id: UUID
    username: str
    display_name: str
    bio: str
    avatar_url: str
    date_joined: datetime

    @staticmethod
    def resolve_id(obj: User) -> UUID:
        return obj.public_id


class MeOut(PublicUserOut):
    model_config = answer_example(examples.ME)

    email: str
    email_verified: bool = Field(description="Whether ``email`` was shown to be theirs.")
    email_pending: str = Field(
        description="An address they asked to change to, until its link is opened; or ''."
    )
    is_staff: bool

    @staticmethod
    def resolve_email_verified(obj: User) -> bool:
        return obj.email_verified_at is not None


class EmailVerifyIn(InputSchema):
    token: str = Field(min_length=1, max_length=200, description="The link's ?token= value.")


class EmailChangeIn(InputSchema):
    password: str = Field(max_length=128, description="The current password.")
    email: str = Field(max_length=254, description="The new address (verified before it counts).")


class PasswordResetIn(InputSchema):
    email: str = Field(max_length=254)


class PasswordResetConfirmIn(InputSchema):
    uid: str = Field(min_length=1, max_length=40, description="The link's ?uid= value.")
    token: str = Field(min_length=1, max_length=100, description="The link's ?token= value.")
    new_password: str = Field(max_length=128)


class AcceptedOut(Schema):
    detail: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"detail": "If the address has an account, a mail is on its way."}]
        }
    )
