"""What a client may send on the chat socket, validated before anything runs."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from api.chat.schemas import CONTENT_INPUT_MAX
from musicbud.chat.models import CLIENT_ID_MAX_LENGTH

Username = Annotated[str, Field(min_length=1, max_length=150)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Addressed(_Frame):
    """Sent to a channel (its id) or a conversation (the other person's username)."""

    channel: UUID | None = Field(None, description="A channel's id.")
    conversation: Username | None = None

    @model_validator(mode="after")
    def _one_place(self) -> _Addressed:
        if (self.channel is None) == (self.conversation is None):
            raise ValueError("give exactly one of channel or conversation")
        return self


class SendFrame(_Addressed):
    type: Literal["send"]
    content: str = Field(max_length=CONTENT_INPUT_MAX)
    client_id: str | None = Field(None, min_length=1, max_length=CLIENT_ID_MAX_LENGTH)


class TypingFrame(_Addressed):
    type: Literal["typing"]


class ReadFrame(_Addressed):
    type: Literal["read"]
    message_id: UUID


class ResumeFrame(_Frame):
    type: Literal["resume"]
    after: UUID | None = Field(None, description="The last message seen; null: from the first.")


Frame = Annotated[SendFrame | TypingFrame | ReadFrame | ResumeFrame, Field(discriminator="type")]
FRAMES: TypeAdapter[Frame] = TypeAdapter(Frame)
