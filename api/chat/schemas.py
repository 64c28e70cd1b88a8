"""Schemas of the chat area (REST); the socket's frames are in ``api.chat.frames``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from api import examples
from api.examples import answer_example
from api.pagination import PageParams
from api.schemas import InputSchema
from musicbud.chat.fanout import user_payload
from musicbud.chat.models import CLIENT_ID_MAX_LENGTH, MESSAGE_MAX_LENGTH, Message
from musicbud.chat.selectors import MembershipView

# What a socket frame's content may hold before the service trims it and applies the
# 4,000-character limit (REST bodies state that limit in their schema).
CONTENT_INPUT_MAX = 20_000


class UserRefOut(Schema):
    model_config = answer_example(examples.USER_REF)

    username: str
    display_name: str


class ChannelCreateIn(InputSchema):
    name: str = Field(min_length=1, max_length=80, description="Unique, case-insensitively.")
    description: str = Field("", max_length=500)
    visibility: Literal["public", "private"] = "public"


class ChannelUpdateIn(InputSchema):
    """Fields to change; omitted fields stay."""

    name: str | None = Field(None, min_length=1, max_length=80)
    description: str | None = Field(None, max_length=500)
    visibility: Literal["public", "private"] | None = None


class ChannelOut(Schema):
    model_config = answer_example(examples.CHANNEL)

    id: UUID
    name: str
    description: str
    visibility: str
    created_at: datetime
    creator: str | None = Field(description="The creator's username (null once deleted).")
    member_count: int
    role: str | None = Field(description="My role here, or null.")
    state: str | None = Field(description="My membership state here, or null.")
    unread: int | None = Field(description="Messages after my read marker (active members).")


class ChannelListParams(PageParams):
    q: str = Field("", max_length=80, description="Part of the channel's name.")
    mine: bool = Field(False, description="Only channels I am an active member of.")


class MemberOut(Schema):
    model_config = answer_example(examples.MEMBER)

    id: UUID = Field(description="The membership's id (an invitation's id for accept/decline).")
    channel: UUID
    channel_name: str
    user: UserRefOut
    role: str
    state: str
    joined_at: datetime | None
    invited_by: str | None

    @staticmethod
    def resolve_channel(obj: MembershipView) -> UUID:
        return obj.channel_id


class UsernameIn(InputSchema):
    username: str = Field(min_length=1, max_length=150)


class MessageIn(InputSchema):
    content: str = Field(
        min_length=1,
        max_length=MESSAGE_MAX_LENGTH,
        pattern=r"\S",
        description="1-4000 characters, not all blank; trimmed when stored.",
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=CLIENT_ID_MAX_LENGTH,
        description="The sender's id for this message: sending it again stores nothing new.",
    )


class MessageOut(Schema):
    """A message; ``channel`` or ``conversation`` says where it was sent (the other is null)."""

    model_config = answer_example(examples.MESSAGE)

    id: UUID
    channel: UUID | None
    conversation: UUID | None
    author: UserRefOut = Field(
        description='A deleted account shows as username "" and display name "Deleted '
        'account", with no content.'
    )
    content: str
    created_at: datetime

    @staticmethod
    def resolve_id(obj: Message) -> UUID:
        return obj.public_id

    @staticmethod
    def resolve_author(obj: object) -> object:
        if isinstance(obj, dict):
            return obj["author"]
        author = obj.author  # type: ignore[attr-defined]
        return user_payload(author)

    @staticmethod
    def resolve_channel(obj: Message) -> UUID | None:
        # Loaded with the message (select_related): no query per row.
        return obj.channel.public_id if obj.channel is not None else None

    @staticmethod
    def resolve_conversation(obj: Message) -> UUID | None:
        return obj.conversation.public_id if obj.conversation is not None else None


class ConversationOut(Schema):
    model_config = answer_example(examples.CONVERSATION)

    id: UUID
    user: UserRefOut = Field(
        description='The other person ("Deleted account" once they deleted their account).'
    )
    last_message: MessageOut | None
    unread: int

    @staticmethod
    def resolve_user(obj: object) -> object:
        if isinstance(obj, dict):
            return obj["user"]
        return user_payload(obj.user)  # type: ignore[attr-defined]


class ReadIn(InputSchema):
    message_id: UUID = Field(description="The newest message read.")


class BlockOut(Schema):
    model_config = answer_example(examples.BLOCK)

    username: str


class ReadOut(Schema):
    model_config = answer_example(examples.READ)

    unread: int = Field(description="Messages still unread after the marker.")


class TicketOut(Schema):
    model_config = answer_example(examples.TICKET)

    ticket: str = Field(description="Open /ws/chat/?ticket=<ticket> within expires_in seconds.")
    expires_in: int
