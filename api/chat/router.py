"""Chat endpoints: channels, membership and moderation, messages, direct messages, blocks,
read markers and WebSocket tickets. Real-time delivery is the socket (``api.chat.consumer``)."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus
from typing import Any
from uuid import UUID

from ninja import Query, Router, Status

from api.auth import AuthenticatedRequest, auth
from api.chat.schemas import (
    BlockOut,
    ChannelCreateIn,
    ChannelListParams,
    ChannelOut,
    ChannelUpdateIn,
    ConversationOut,
    MemberOut,
    MessageIn,
    MessageOut,
    ReadIn,
    ReadOut,
    TicketOut,
    UsernameIn,
)
from api.openapi import also_answers
from api.pagination import Page, PageParams, before_page, offset_page
from musicbud.chat.models import Message
from musicbud.chat.selectors import (
    ChannelView,
    MembershipView,
    chat_channel_get,
    chat_channel_messages,
    chat_channels_count,
    chat_channels_list,
    chat_conversation_messages,
    chat_conversations_count,
    chat_conversations_list,
    chat_invitations_count,
    chat_invitations_list,
)
from musicbud.chat.services.blocks import chat_block_add, chat_block_remove
from musicbud.chat.services.channels import (
    chat_channel_create,
    chat_channel_delete,
    chat_channel_update,
)
from musicbud.chat.services.membership import (
    chat_channel_join,
    chat_channel_leave,
    chat_invitation_respond,
    chat_member_approve,
    chat_member_invite,
)
from musicbud.chat.services.messages import chat_message_delete, chat_message_post
from musicbud.chat.services.moderation import ModerationAction, chat_member_moderate
from musicbud.chat.services.read_markers import chat_read_mark
from musicbud.chat.tickets import TICKET_TTL_SECONDS, chat_ticket_issue

router = Router(tags=["chat"], auth=auth)


async def _message_post(
    request: AuthenticatedRequest, payload: MessageIn, **place: Any
) -> Status[Message]:
    """Send to ``channel_id`` or ``username``: 201, or 200 for a client_id already sent."""
    posted = await chat_message_post(
        user=request.auth,
        content=payload.content,
        client_id=payload.client_id,
        **place,
    )
    return Status(HTTPStatus.CREATED if posted.created else HTTPStatus.OK, posted.message)


async def _read(request: AuthenticatedRequest, payload: ReadIn, **place: Any) -> dict[str, int]:
    unread = await chat_read_mark(
        user=request.auth,
        message_id=payload.message_id,
        **place,
    )
    return {"unread": unread}


# --- channels ---------------------------------------------------------------------------------


@router.post(
    "/channels",
    response={HTTPStatus.CREATED: ChannelOut},
    url_name="chat-channels",
    summary="Create a channel (I become its admin; a taken name is a 409)",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def channel_create(
    request: AuthenticatedRequest, payload: ChannelCreateIn
) -> Status[ChannelView]:
    channel = await chat_channel_create(user=request.auth, **payload.model_dump())
    return Status(HTTPStatus.CREATED, channel)


@router.get("/channels", response=Page[ChannelOut], url_name="chat-channels")
async def channel_list(
    request: AuthenticatedRequest, params: Query[ChannelListParams]
) -> dict[str, object]:
    me, query, mine = request.auth, params.q.strip(), params.mine
    return await offset_page(
        request,
        params,
        partial(chat_channels_list, user=me, query=query, mine=mine),
        count=partial(chat_channels_count, user=me, query=query, mine=mine),
    )


@router.get("/channels/{channel_id}", response=ChannelOut, url_name="chat-channel")
async def channel_get(request: AuthenticatedRequest, channel_id: UUID) -> ChannelView:
    return await chat_channel_get(user=request.auth, channel_id=channel_id)


@router.patch(
    "/channels/{channel_id}",
    response=ChannelOut,
    url_name="chat-channel",
    summary="Change a channel (its admins)",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def channel_update(
    request: AuthenticatedRequest, channel_id: UUID, payload: ChannelUpdateIn
) -> ChannelView:
    return await chat_channel_update(
        user=request.auth,
        channel_id=channel_id,
        **payload.model_dump(exclude_unset=True),
    )


@router.delete(
    "/channels/{channel_id}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-channel",
    summary="Delete a channel and its messages (its admins)",
)
async def channel_delete(request: AuthenticatedRequest, channel_id: UUID) -> Status[None]:
    await chat_channel_delete(user=request.auth, channel_id=channel_id)
    return Status(HTTPStatus.NO_CONTENT, None)


# --- membership -------------------------------------------------------------------------------


@router.post(
    "/channels/{channel_id}/join",
    response=MemberOut,
    url_name="chat-channel-join",
    summary="Join a public channel, or ask to join a private one (pending until approved)",
)
async def channel_join(request: AuthenticatedRequest, channel_id: UUID) -> MembershipView:
    return await chat_channel_join(user=request.auth, channel_id=channel_id)


@router.post(
    "/channels/{channel_id}/leave",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-channel-leave",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def channel_leave(request: AuthenticatedRequest, channel_id: UUID) -> Status[None]:
    await chat_channel_leave(user=request.auth, channel_id=channel_id)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/channels/{channel_id}/members",
    response={HTTPStatus.CREATED: MemberOut},
    url_name="chat-channel-members",
    summary="Invite someone (admins and moderators)",
    openapi_extra=also_answers(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
async def member_invite(
    request: AuthenticatedRequest, channel_id: UUID, payload: UsernameIn
) -> Status[MembershipView]:
    membership = await chat_member_invite(
        user=request.auth,
        channel_id=channel_id,
        username=payload.username,
    )
    return Status(HTTPStatus.CREATED, membership)


# Declared before the moderation route: "approve" would otherwise read as an action.
@router.post(
    "/channels/{channel_id}/members/{username}/approve",
    response=MemberOut,
    url_name="chat-member-approve",
    summary="Approve a request to join (admins and moderators)",
)
async def member_approve(
    request: AuthenticatedRequest, channel_id: UUID, username: str
) -> MembershipView:
    return await chat_member_approve(
        user=request.auth,
        channel_id=channel_id,
        username=username,
    )


@router.post(
    "/channels/{channel_id}/members/{username}/{action}",
    response={HTTPStatus.OK: MemberOut, HTTPStatus.NO_CONTENT: None},
    url_name="chat-member-moderate",
    summary="Kick (admins; moderators kick members), ban, unban, promote or demote (admins)",
    description=(
        "kick, ban and unban answer 204 and take effect at once, on open sockets too; a "
        "banned member cannot be kicked (409 banned), only unbanned; promote "
        "(member → moderator → admin) and demote (the reverse) answer the membership."
    ),
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def member_moderate(
    request: AuthenticatedRequest,
    channel_id: UUID,
    username: str,
    action: ModerationAction,
) -> Status[MembershipView | None]:
    membership = await chat_member_moderate(
        user=request.auth,
        channel_id=channel_id,
        username=username,
        action=action,
    )
    if membership is None:
        return Status(HTTPStatus.NO_CONTENT, None)
    return Status(HTTPStatus.OK, membership)


@router.get("/invitations", response=Page[MemberOut], url_name="chat-invitations")
async def invitation_list(
    request: AuthenticatedRequest, params: Query[PageParams]
) -> dict[str, object]:
    return await offset_page(
        request,
        params,
        partial(chat_invitations_list, user=request.auth),
        count=partial(chat_invitations_count, user=request.auth),
    )


@router.post(
    "/invitations/{invitation_id}/accept", response=MemberOut, url_name="chat-invitation-accept"
)
async def invitation_accept(
    request: AuthenticatedRequest, invitation_id: UUID
) -> MembershipView | None:
    return await chat_invitation_respond(
        user=request.auth,
        invitation_id=invitation_id,
        accept=True,
    )


@router.post(
    "/invitations/{invitation_id}/decline",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-invitation-decline",
)
async def invitation_decline(request: AuthenticatedRequest, invitation_id: UUID) -> Status[None]:
    await chat_invitation_respond(
        user=request.auth,
        invitation_id=invitation_id,
        accept=False,
    )
    return Status(HTTPStatus.NO_CONTENT, None)


# --- messages ---------------------------------------------------------------------------------


@router.get(
    "/channels/{channel_id}/messages",
    response=Page[MessageOut],
    url_name="chat-channel-messages",
    summary="A channel's messages, newest first (`next` pages older ones)",
    # A private channel's history is for members only.
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
)
async def channel_messages(
    request: AuthenticatedRequest, channel_id: UUID, params: Query[PageParams]
) -> dict[str, object]:
    return await before_page(
        request, params, partial(chat_channel_messages, user=request.auth, channel_id=channel_id)
    )


@router.post(
    "/channels/{channel_id}/messages",
    response={HTTPStatus.CREATED: MessageOut, HTTPStatus.OK: MessageOut},
    url_name="chat-channel-messages",
    summary="Send to a channel (201; 200 when this client_id was already sent)",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def channel_message_post(
    request: AuthenticatedRequest, channel_id: UUID, payload: MessageIn
) -> Status[Message]:
    return await _message_post(request, payload, channel_id=channel_id)


@router.post("/channels/{channel_id}/read", response=ReadOut, url_name="chat-channel-read")
async def channel_read(
    request: AuthenticatedRequest, channel_id: UUID, payload: ReadIn
) -> dict[str, int]:
    return await _read(request, payload, channel_id=channel_id)


@router.delete(
    "/messages/{message_id}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-message",
    summary="Delete a message (its author; in a channel also its admins and moderators)",
)
async def message_delete(request: AuthenticatedRequest, message_id: UUID) -> Status[None]:
    await chat_message_delete(user=request.auth, message_id=message_id)
    return Status(HTTPStatus.NO_CONTENT, None)


# --- direct messages --------------------------------------------------------------------------


@router.get("/conversations", response=Page[ConversationOut], url_name="chat-conversations")
async def conversation_list(
    request: AuthenticatedRequest, params: Query[PageParams]
) -> dict[str, object]:
    return await offset_page(
        request,
        params,
        partial(chat_conversations_list, user=request.auth),
        count=partial(chat_conversations_count, user=request.auth),
    )


@router.get(
    "/conversations/{username}/messages",
    response=Page[MessageOut],
    url_name="chat-conversation-messages",
)
async def conversation_messages(
    request: AuthenticatedRequest, username: str, params: Query[PageParams]
) -> dict[str, object]:
    return await before_page(
        request, params, partial(chat_conversation_messages, user=request.auth, username=username)
    )


@router.post(
    "/conversations/{username}/messages",
    response={HTTPStatus.CREATED: MessageOut, HTTPStatus.OK: MessageOut},
    url_name="chat-conversation-messages",
    summary="Send a direct message (403 when either of us blocked the other)",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def conversation_message_post(
    request: AuthenticatedRequest, username: str, payload: MessageIn
) -> Status[Message]:
    return await _message_post(request, payload, username=username)


@router.post("/conversations/{username}/read", response=ReadOut, url_name="chat-conversation-read")
async def conversation_read(
    request: AuthenticatedRequest, username: str, payload: ReadIn
) -> dict[str, int]:
    return await _read(request, payload, username=username)


# --- blocks and tickets -----------------------------------------------------------------------


@router.post(
    "/blocks",
    response={HTTPStatus.CREATED: BlockOut, HTTPStatus.OK: BlockOut},
    url_name="chat-blocks",
    summary="Block someone (201; 200 when already blocked)",
    openapi_extra=also_answers(HTTPStatus.NOT_FOUND),
)
async def block_add(request: AuthenticatedRequest, payload: UsernameIn) -> Status[dict[str, str]]:
    created = await chat_block_add(user=request.auth, username=payload.username)
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    return Status(status, {"username": payload.username})


@router.delete("/blocks/{username}", response={HTTPStatus.NO_CONTENT: None}, url_name="chat-block")
async def block_remove(request: AuthenticatedRequest, username: str) -> Status[None]:
    await chat_block_remove(user=request.auth, username=username)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/ticket",
    response={HTTPStatus.CREATED: TicketOut},
    url_name="chat-ticket",
    summary="A single-use ticket to open the chat WebSocket (valid 30 s, for me only)",
)
async def ticket_issue(request: AuthenticatedRequest) -> Status[dict[str, object]]:
    claims = request.token_claims
    ticket = await chat_ticket_issue(
        user=request.auth,
        family_id=claims.family_id if claims is not None else None,
        session_key=None if claims is not None else request.session.session_key,
    )
    return Status(HTTPStatus.CREATED, {"ticket": ticket, "expires_in": TICKET_TTL_SECONDS})
