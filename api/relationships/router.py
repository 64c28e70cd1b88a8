"""Relationships endpoints: privacy settings, friend requests and friends, compatibility with
anyone, compare links. Blocks live in the chat area (``/chat/blocks``) and apply here too."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus
from typing import Any
from uuid import UUID

from ninja import Query, Router
from ninja.responses import Status

from api.auth import AuthenticatedRequest, auth
from api.openapi import also_answers
from api.pagination import Page, PageParams, next_link, offset_page
from api.relationships.schemas import (
    BlendOut,
    BlendParams,
    CompareLinkOut,
    CompareOut,
    CompatibilityOut,
    FeedEventOut,
    FriendOut,
    FriendRequestIn,
    FriendRequestOut,
    PrivacyIn,
    PrivacyOut,
    RequestsParams,
)
from api.throttling import enforce_user_rate_limit
from musicbud.relationships.blend import blend_get
from musicbud.relationships.feed import feed_get
from musicbud.relationships.selectors import (
    CompareLinkView,
    CompatibilityView,
    compare_get,
    compare_link_count,
    compare_links_list,
    compatibility_get,
    friend_count,
    friend_request_count,
    friend_requests_list,
    friends_list,
)
from musicbud.relationships.services.compare_links import compare_link_create, compare_link_revoke
from musicbud.relationships.services.friends import (
    FriendRequestView,
    PersonView,
    friend_remove,
    friend_request_accept,
    friend_request_cancel,
    friend_request_decline,
    friend_request_send,
)
from musicbud.relationships.services.privacy import PrivacyView, privacy_change, privacy_get

router = Router(tags=["relationships"], auth=auth)


@router.get(
    "/me/privacy",
    response=PrivacyOut,
    url_name="my-privacy",
    summary="My privacy settings",
    description="Who finds me (`discoverable`) and who sees my taste (`taste_visible_to`): "
    "`everyone`, `friends` or `nobody`. Blocks apply whatever they say.",
)
async def my_privacy(request: AuthenticatedRequest) -> PrivacyView:
    return await privacy_get(user_id=request.auth.pk)


@router.patch(
    "/me/privacy",
    response=PrivacyOut,
    url_name="my-privacy",
    summary="Change my privacy settings",
    description="Omitted fields stay. Takes effect on the next request of anyone: cached "
    "bud pages I could appear in are dropped at once (so a change is rate limited by the "
    "strict policy: each drops the pages of everyone holding an item I hold).",
)
async def change_my_privacy(request: AuthenticatedRequest, payload: PrivacyIn) -> PrivacyView:
    await enforce_user_rate_limit(user_id=request.auth.pk, group="privacy.change", policy="strict")
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    return await privacy_change(user_id=request.auth.pk, changes=changes)


def _request(view: FriendRequestView) -> dict[str, Any]:
    return {
        "id": view.id,
        "sender": view.sender,
        "recipient": view.recipient,
        "status": view.status,
        "created_at": view.created_at,
    }


@router.post(
    "/friends/requests",
    response={HTTPStatus.CREATED: FriendRequestOut, HTTPStatus.OK: FriendRequestOut},
    url_name="friend-requests",
    by_alias=True,
    summary="Ask someone to be friends (201; 200 when it accepts their request to me)",
    description="A request to someone who already asked me accepts theirs (200, status "
    "`accepted`). Asking twice is a 409 `friend_request_pending`, asking a friend a 409 "
    "`already_friends`; someone who blocked me (or whom I blocked) is a 404 exactly like an "
    "unknown user. The recipient's chat sockets get a `friend_request` event. Rate limited "
    "by the strict policy.",
    openapi_extra=also_answers(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
async def send_request(
    request: AuthenticatedRequest, payload: FriendRequestIn
) -> Status[dict[str, Any]]:
    await enforce_user_rate_limit(user_id=request.auth.pk, group="friends.request", policy="strict")
    result = await friend_request_send(user=request.auth, username=payload.username)
    status = HTTPStatus.CREATED if result.created else HTTPStatus.OK
    return Status(status, _request(result.request))


@router.get(
    "/friends/requests",
    response=Page[FriendRequestOut],
    url_name="friend-requests",
    by_alias=True,
    summary="My pending friend requests, incoming or outgoing, newest first",
    description="`direction=incoming` (default): requests to me; `outgoing`: mine. Only "
    "pending ones; a block cancels those between the two people.",
)
async def list_requests(
    request: AuthenticatedRequest, params: Query[RequestsParams]
) -> dict[str, object]:
    page = await offset_page(
        request,
        params,
        partial(friend_requests_list, user_id=request.auth.pk, direction=params.direction.value),
        count=partial(
            friend_request_count, user_id=request.auth.pk, direction=params.direction.value
        ),
    )
    page["items"] = [_request(view) for view in page["items"]]  # type: ignore[attr-defined]
    return page


@router.post(
    "/friends/requests/{request_id}/accept",
    response=FriendRequestOut,
    url_name="friend-request-accept",
    by_alias=True,
    summary="Accept a friend request sent to me",
    description="404 unless the request is mine to answer; 409 `friend_request_answered` "
    "when it is answered already. The sender's chat sockets get a `friend_request` event.",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def accept_request(request: AuthenticatedRequest, request_id: UUID) -> dict[str, Any]:
    return _request(await friend_request_accept(user=request.auth, request_id=request_id))


@router.post(
    "/friends/requests/{request_id}/decline",
    response=FriendRequestOut,
    url_name="friend-request-decline",
    by_alias=True,
    summary="Decline a friend request sent to me",
    description="404 unless the request is mine to answer; 409 when answered already.",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def decline_request(request: AuthenticatedRequest, request_id: UUID) -> dict[str, Any]:
    return _request(await friend_request_decline(user=request.auth, request_id=request_id))


@router.delete(
    "/friends/requests/{request_id}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="friend-request",
    summary="Withdraw a friend request I sent",
    description="404 unless I sent it; 409 when it is answered already.",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def cancel_request(request: AuthenticatedRequest, request_id: UUID) -> Status[None]:
    await friend_request_cancel(user=request.auth, request_id=request_id)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get(
    "/me/friends",
    response=Page[FriendOut],
    url_name="my-friends",
    summary="My friends, newest friendship first, each with our compatibility score",
    description="Each friend with when we became friends and our compatibility (0-100, as "
    "`GET /users/{username}/compatibility`; null for a friend whose `taste_visible_to` is "
    "`nobody`, as that answers 403 `taste_hidden`).",
)
async def my_friends(request: AuthenticatedRequest, params: Query[PageParams]) -> dict[str, object]:
    return await offset_page(
        request,
        params,
        partial(friends_list, user_id=request.auth.pk),
        count=partial(friend_count, user_id=request.auth.pk),
    )


@router.delete(
    "/me/friends/{username}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="my-friend",
    summary="End a friendship",
    description="404 `friendship_not_found` when we are not friends; 404 `user_not_found` "
    "for an unknown user or across a block.",
)
async def unfriend(request: AuthenticatedRequest, username: str) -> Status[None]:
    await friend_remove(user=request.auth, username=username)
    return Status(HTTPStatus.NO_CONTENT, None)


def _compatibility(view: CompatibilityView) -> dict[str, Any]:
    answer = view.answer
    return {
        "user": view.user,
        "score": answer.score,
        "breakdown": answer.breakdown,
        "shared": answer.shared,
        "together": answer.shared[0].item if answer.shared else None,
        "discover": {"for_me": answer.for_first, "for_them": answer.for_second},
    }


@router.get(
    "/users/{username}/compatibility",
    response=CompatibilityOut,
    url_name="compatibility",
    summary="How compatible my taste is with someone's (0-100)",
    description="Symmetric: the same score from either side; built on the bud score (see "
    "musicbud/relationships/README.md). 404 for an unknown user or across a block; 403 "
    "`taste_hidden` when their `taste_visible_to` leaves me out; 422 `same_user` for me.",
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
)
async def compatibility(request: AuthenticatedRequest, username: str) -> dict[str, Any]:
    return _compatibility(await compatibility_get(user_id=request.auth.pk, username=username))


def _link(request: AuthenticatedRequest, view: CompareLinkView) -> dict[str, Any]:
    return {
        "token": view.token,
        "url": f"/api/v1/compare/{view.token}",
        "expires_at": view.expires_at,
    }


@router.post(
    "/me/compare-links",
    response={HTTPStatus.CREATED: CompareLinkOut},
    url_name="my-compare-links",
    summary="Make a link anyone signed in can open to compare with me (7 days)",
    description="The token carries 192 random bits; whoever holds the link sees our "
    "compatibility and my public profile even when I am not discoverable.",
)
async def create_link(request: AuthenticatedRequest) -> Status[dict[str, Any]]:
    view = await compare_link_create(user_id=request.auth.pk)
    return Status(HTTPStatus.CREATED, _link(request, view))


@router.get(
    "/me/compare-links",
    response=Page[CompareLinkOut],
    url_name="my-compare-links",
    summary="My live compare links, newest first",
    description="Links neither revoked nor expired, each with its token and URL (shown to me "
    "only).",
)
async def list_links(request: AuthenticatedRequest, params: Query[PageParams]) -> dict[str, object]:
    page = await offset_page(
        request,
        params,
        partial(compare_links_list, user_id=request.auth.pk),
        count=partial(compare_link_count, user_id=request.auth.pk),
    )
    page["items"] = [_link(request, view) for view in page["items"]]  # type: ignore[attr-defined]
    return page


@router.delete(
    "/me/compare-links/{token}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="my-compare-link",
    summary="Revoke one of my compare links",
    description="404 `compare_link_not_found` unless it is one of my live links.",
)
async def revoke_link(request: AuthenticatedRequest, token: str) -> Status[None]:
    await compare_link_revoke(user_id=request.auth.pk, token=token)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get(
    "/compare/{token}",
    response=CompareOut,
    url_name="compare",
    summary="Compare with the owner of a compare link",
    description="The owner's public profile and our compatibility, whatever the owner's "
    "privacy. Revoked, expired or unknown links, and either of us having blocked the other, "
    "are all the same 404 `compare_link_not_found`.",
)
async def compare(request: AuthenticatedRequest, token: str) -> dict[str, Any]:
    view = await compare_get(viewer_id=request.auth.pk, token=token)
    return {
        "owner": view.owner,
        "compatibility": _compatibility(
            CompatibilityView(
                user=PersonView(
                    public_id=view.owner.public_id,
                    username=view.owner.username,
                    display_name=view.owner.display_name,
                ),
                answer=view.answer,
            )
        ),
    }


@router.get(
    "/me/friends/{username}/blend",
    response=BlendOut,
    url_name="friend-blend",
    summary="A track list drawn from a friend's taste and mine",
    description="What we share first, then each side's favourites in turn (mine, theirs, "
    "...), each row saying whose taste it came from; stable within a day. 403 `not_friends` "
    "unless we are friends, 403 `taste_hidden` when their `taste_visible_to` is `nobody`; 404 "
    "for an unknown user or across a block.",
    openapi_extra=also_answers(HTTPStatus.FORBIDDEN),
)
async def blend(
    request: AuthenticatedRequest, username: str, params: Query[BlendParams]
) -> dict[str, object]:
    rows = await blend_get(user_id=request.auth.pk, username=username, limit=params.limit)
    return {"items": rows, "count": len(rows), "next": None, "previous": None}


@router.get(
    "/me/feed",
    response=Page[FeedEventOut],
    url_name="my-feed",
    summary="My friends' activity, newest first",
    description="New likes, new top-list entries, finished syncs and finished history "
    "uploads (imports: `added` says what they added) of my friends whose `taste_visible_to` "
    "lets me see their taste. Cursor paged: new events never shift a page. `count` is null: "
    "the feed grows while it is read, so a total would be stale at once. `previous` is the "
    "page just newer than this one (same limit), null on the first page.",
)
async def feed(request: AuthenticatedRequest, params: Query[PageParams]) -> dict[str, object]:
    page = await feed_get(user_id=request.auth.pk, cursor=params.cursor, limit=params.limit)
    return {
        "items": page.events,
        "count": None,  # the feed grows while it is read (see the description)
        "next": next_link(request, page.next_cursor),
        "previous": next_link(request, page.previous_cursor),
    }
