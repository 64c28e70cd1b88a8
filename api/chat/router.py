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
    """Creates a public or private channel named uniquely (case-insensitively: a taken name is a
    409) and makes me its admin. Names follow the identifying-name rule (no control, invisible
    or mixed-script words: 422 naming it)."""
    channel = await chat_channel_create(user=request.auth, **payload.model_dump())
    return Status(HTTPStatus.CREATED, channel)


@router.get(
    "/channels",
    response=Page[ChannelOut],
    url_name="chat-channels",
    summary="List channels (search by name, or only mine)",
)
async def channel_list(
    request: AuthenticatedRequest, params: Query[ChannelListParams]
) -> dict[str, object]:
    """Public channels and the private ones I belong to, by name; `q` filters by part of the
    name, `mine=true` keeps those I am an active member of. Each carries my role, state and
    unread count."""
    me, query, mine = request.auth, params.q.strip(), params.mine
    return await offset_page(
        request,
        params,
        partial(chat_channels_list, user=me, query=query, mine=mine),
        count=partial(chat_channels_count, user=me, query=query, mine=mine),
    )


@router.get(
    "/channels/{channel_id}",
    response=ChannelOut,
    url_name="chat-channel",
    summary="One channel, with my role and unread count",
)
async def channel_get(request: AuthenticatedRequest, channel_id: UUID) -> ChannelView:
    """A public channel, or a private one I belong to (404 otherwise, as if it did not exist)."""
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
    """Changes the name, description or visibility; omitted fields stay. Its admins only (403);
    a name already taken is a 409."""
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
    """Deletes the channel with its memberships and messages; open sockets are told at once. Its
    admins only (403)."""
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
    """A public channel: I am an active member at once. A private one: a pending request that
    its admins and moderators approve. A banned member cannot join (403)."""
    return await chat_channel_join(user=request.auth, channel_id=channel_id)


@router.post(
    "/channels/{channel_id}/leave",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-channel-leave",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
    summary="Leave a channel",
)
async def channel_leave(request: AuthenticatedRequest, channel_id: UUID) -> Status[None]:
    """Ends my membership (204). The last admin cannot leave while others remain (409): promote
    someone first."""
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
    """Invites a user by username; they accept or decline under `/api/v1/chat/invitations`.
    Admins and moderators only (403); someone blocked either way cannot be invited."""
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
    """Makes a pending request to join an active membership. Admins and moderators only (403);
    404 when there is no such request."""
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


@router.get(
    "/invitations",
    response=Page[MemberOut],
    url_name="chat-invitations",
    summary="My pending invitations",
)
async def invitation_list(
    request: AuthenticatedRequest, params: Query[PageParams]
) -> dict[str, object]:
    """The channels that invited me and wait for my answer, newest first."""
    return await offset_page(
        request,
        params,
        partial(chat_invitations_list, user=request.auth),
        count=partial(chat_invitations_count, user=request.auth),
    )


@router.post(
    "/invitations/{invitation_id}/accept",
    response=MemberOut,
    url_name="chat-invitation-accept",
    summary="Accept an invitation",
)
async def invitation_accept(
    request: AuthenticatedRequest, invitation_id: UUID
) -> MembershipView | None:
    """I become an active member of the inviting channel; answers the membership. 404 for an
    invitation that is not mine or no longer pending."""
    return await chat_invitation_respond(
        user=request.auth,
        invitation_id=invitation_id,
        accept=True,
    )


@router.post(
    "/invitations/{invitation_id}/decline",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-invitation-decline",
    summary="Decline an invitation",
)
async def invitation_decline(request: AuthenticatedRequest, invitation_id: UUID) -> Status[None]:
    """The invitation is dropped (204). 404 for an invitation that is not mine or no longer
    pending."""
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
    """A page of messages, newest first; `next` goes on below the last one seen, so messages
    arriving meanwhile never shift a page. A private channel's history is for its members (403)."""
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
    """Stores the message, then delivers it to the channel's open sockets. Active members only
    (403). A `client_id` makes a retry safe: the same id again answers the message already
    stored (200) instead of sending it twice."""
    return await _message_post(request, payload, channel_id=channel_id)


@router.post(
    "/channels/{channel_id}/read",
    response=ReadOut,
    url_name="chat-channel-read",
    summary="Mark a channel read up to a message",
)
async def channel_read(
    request: AuthenticatedRequest, channel_id: UUID, payload: ReadIn
) -> dict[str, int]:
    """Moves my read marker to `message_id` (never backwards) and answers how many messages are
    still unread after it."""
    return await _read(request, payload, channel_id=channel_id)


@router.delete(
    "/messages/{message_id}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-message",
    summary="Delete a message (its author; in a channel also its admins and moderators)",
)
async def message_delete(request: AuthenticatedRequest, message_id: UUID) -> Status[None]:
    """Marks the message deleted (its content is no longer served) and tells open sockets. Its
    author may; in a channel also its admins and moderators (403 otherwise)."""
    await chat_message_delete(user=request.auth, message_id=message_id)
    return Status(HTTPStatus.NO_CONTENT, None)


# --- direct messages --------------------------------------------------------------------------


@router.get(
    "/conversations",
    response=Page[ConversationOut],
    url_name="chat-conversations",
    summary="My direct conversations",
)
async def conversation_list(
    request: AuthenticatedRequest, params: Query[PageParams]
) -> dict[str, object]:
    """One row per person I have exchanged direct messages with, most recent first, with the
    last message and my unread count."""
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
    summary="Direct messages with someone",
)
async def conversation_messages(
    request: AuthenticatedRequest, username: str, params: Query[PageParams]
) -> dict[str, object]:
    """A page of the messages between me and `username`, newest first; `next` pages older ones.
    404 for an unknown user."""
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
    """Stores the message and delivers it to both people's open sockets; the conversation is
    created on the first message. 403 when either of us blocked the other; `client_id` makes a
    retry safe (200 with the stored message)."""
    return await _message_post(request, payload, username=username)


@router.post(
    "/conversations/{username}/read",
    response=ReadOut,
    url_name="chat-conversation-read",
    summary="Mark a conversation read up to a message",
)
async def conversation_read(
    request: AuthenticatedRequest, username: str, payload: ReadIn
) -> dict[str, int]:
    """Moves my read marker in the conversation with `username` to `message_id` and answers how
    many messages are still unread."""
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
    """Neither of us can send the other direct messages or invitations any more. 201 when
    blocked now, 200 when already blocked; 404 for an unknown user, 422 for myself."""
    created = await chat_block_add(user=request.auth, username=payload.username)
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    return Status(status, {"username": payload.username})


@router.delete(
    "/blocks/{username}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="chat-block",
    summary="Unblock someone",
)
async def block_remove(request: AuthenticatedRequest, username: str) -> Status[None]:
    """Lifts my block of `username` (204, also when there was none); a block they set on me
    stays."""
    await chat_block_remove(user=request.auth, username=username)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/ticket",
    response={HTTPStatus.CREATED: TicketOut},
    url_name="chat-ticket",
    summary="A single-use ticket to open the chat WebSocket (valid 30 s, for me only)",
)
async def ticket_issue(request: AuthenticatedRequest) -> Status[dict[str, object]]:
    """WebSocket clients cannot send an Authorization header: open `/ws/chat/?ticket=<ticket>`
    within `expires_in` seconds instead. The ticket works once, for me only, and ends with the
    login it was issued to."""
    claims = request.token_claims
    ticket = await chat_ticket_issue(
        user=request.auth,
        family_id=claims.family_id if claims is not None else None,
        session_key=None if claims is not None else request.session.session_key,
    )
    return Status(HTTPStatus.CREATED, {"ticket": ticket, "expires_in": TICKET_TTL_SECONDS})
