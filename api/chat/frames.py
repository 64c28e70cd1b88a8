"""What a client may send on the chat socket, validated before anything runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from api.chat.schemas import CONTENT_INPUT_MAX
from api.pagination import MAX_ROW_ID
from musicbud.chat.models import CLIENT_ID_MAX_LENGTH

ChannelId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
Username = Annotated[str, Field(min_length=1, max_length=150)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Addressed(_Frame):
    """Sent to a channel (its id) or a conversation (the other person's username)."""

    channel: ChannelId | None = None
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
    message_id: ChannelId


class ResumeFrame(_Frame):
    type: Literal["resume"]
    after: Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


Frame = Annotated[SendFrame | TypingFrame | ReadFrame | ResumeFrame, Field(discriminator="type")]
FRAMES: TypeAdapter[Frame] = TypeAdapter(Frame)
