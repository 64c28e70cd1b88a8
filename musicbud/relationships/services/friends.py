"""Friend requests and friendships: send (a request to someone who already asked me accepts
theirs), accept, decline, cancel, unfriend. Each write locks both people's rows, so two
crossing requests never both stay pending; each tells the other person live (the chat
socket's user group)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from musicbud.chat.fanout import publish, timestamp, user_group
from musicbud.errors import Conflict, InvalidInput, NotFound
from musicbud.models import User
from musicbud.relationships.caches import bud_pages_invalidate
from musicbud.relationships.models import FriendRequest, Friendship, RequestStatus
from musicbud.relationships.visibility import visible_user_find_read


@dataclass(frozen=True, slots=True)
class PersonView:
    public_id: UUID
    username: str
    display_name: str


@dataclass(frozen=True, slots=True)
class FriendRequestView:
    id: UUID
    sender: PersonView
    recipient: PersonView
    status: str
    created_at: datetime
    # Database ids, for the socket groups; never shown.
    sender_id: int
    recipient_id: int


def person(user: User) -> PersonView:
    return PersonView(
        public_id=user.public_id, username=user.username, display_name=user.display_name
    )


def request_view(row: FriendRequest) -> FriendRequestView:
    """A request (its ``from_user`` and ``to_user`` loaded) as the API shows it."""
    return FriendRequestView(
        id=row.public_id,
        sender=person(row.from_user),
        recipient=person(row.to_user),
        status=row.status,
        created_at=row.created_at,
        sender_id=row.from_user_id,
        recipient_id=row.to_user_id,
    )


def request_payload(view: FriendRequestView) -> dict[str, Any]:
    """A request as the socket event carries it (the REST shape)."""

    def who(p: PersonView) -> dict[str, str]:
        return {"id": str(p.public_id), "username": p.username, "display_name": p.display_name}

    return {
        "id": str(view.id),
        "from": who(view.sender),
        "to": who(view.recipient),
        "status": view.status,
        "created_at": timestamp(view.created_at),
    }


def pair_lock(first_id: int, second_id: int) -> None:
    # Both rows, in id order: concurrent writes about one pair run one after the other.
    list(User.objects.select_for_update().filter(pk__in=(first_id, second_id)).order_by("pk"))


def _friends_add(first_id: int, second_id: int) -> None:
    low, high = sorted((first_id, second_id))
    Friendship.objects.get_or_create(low_id=low, high_id=high)


def _are_friends(first_id: int, second_id: int) -> bool:
    low, high = sorted((first_id, second_id))
    return Friendship.objects.filter(low_id=low, high_id=high).exists()


@dataclass(frozen=True, slots=True)
class SendResult:
    request: FriendRequestView
    # True: a new request; False: theirs to me, now accepted.
    created: bool


def _send(*, user: User, username: str | None, public_id: UUID | None) -> SendResult:
    # Someone who blocked me (or whom I blocked) is exactly an unknown user here.
    target = visible_user_find_read(viewer_id=user.pk, username=username, public_id=public_id)
    if target.pk == user.pk:
        raise InvalidInput("You cannot befriend yourself", code="same_user")
    with transaction.atomic():
        pair_lock(user.pk, target.pk)
        if _are_friends(user.pk, target.pk):
            raise Conflict(f"You and {target.username} are already friends", code="already_friends")
        theirs = (
            FriendRequest.objects.select_for_update()
            .filter(from_user=target, to_user=user, status=RequestStatus.PENDING)
            .first()
        )
        if theirs is not None:
            theirs.status, theirs.answered_at = RequestStatus.ACCEPTED, timezone.now()
            theirs.save(update_fields=["status", "answered_at"])
            _friends_add(user.pk, target.pk)
            theirs.from_user, theirs.to_user = target, user
            return SendResult(request=request_view(theirs), created=False)
        if FriendRequest.objects.filter(
            from_user=user, to_user=target, status=RequestStatus.PENDING
        ).exists():
            raise Conflict(f"You already asked {target.username}", code="friend_request_pending")
        row = FriendRequest.objects.create(from_user=user, to_user=target)
    row.from_user, row.to_user = user, target
    return SendResult(request=request_view(row), created=True)


async def friend_request_send(
    *, user: User, username: str | None = None, public_id: UUID | None = None
) -> SendResult:
    """Ask someone (by username or public id) to be friends. Their pending request to me is
    accepted instead; asking twice or asking a friend is a Conflict; someone who blocked me
    is NotFound, as an unknown user is."""
    result = await sync_to_async(_send)(user=user, username=username, public_id=public_id)
    view = result.request
    if result.created:
        await publish(
            [user_group(view.recipient_id)],
            event={
                "type": "friend_request",
                "action": "received",
                "request": request_payload(view),
            },
        )
    else:
        await _accepted_publish(view)
    return result


async def _accepted_publish(view: FriendRequestView) -> None:
    ids = [view.sender_id, view.recipient_id]
    await bud_pages_invalidate(ids)
    await publish(
        [user_group(pk) for pk in ids],
        event={"type": "friend_request", "action": "accepted", "request": request_payload(view)},
    )


def _pending_for(*, user: User, request_id: UUID, as_recipient: bool) -> FriendRequest:
    mine = Q(to_user=user) if as_recipient else Q(from_user=user)
    row = (
        FriendRequest.objects.select_related("from_user", "to_user")
        .filter(mine, public_id=request_id)
        .first()
    )
    if row is None:
        raise NotFound(f"No friend request with id {request_id}", code="friend_request_not_found")
    # Both people's rows first (the order every write of a pair takes), then the status
    # as it is now.
    pair_lock(row.from_user_id, row.to_user_id)
    row.refresh_from_db(fields=["status"])
    if row.status != RequestStatus.PENDING:
        raise Conflict(f"That request is already {row.status}", code="friend_request_answered")
    return row


def _answer(*, user: User, request_id: UUID, status: RequestStatus) -> FriendRequestView:
    with transaction.atomic():
        row = _pending_for(
            user=user, request_id=request_id, as_recipient=status != RequestStatus.CANCELLED
        )
        row.status, row.answered_at = status, timezone.now()
        row.save(update_fields=["status", "answered_at"])
        if status == RequestStatus.ACCEPTED:
            _friends_add(row.from_user_id, row.to_user_id)
    return request_view(row)


async def friend_request_accept(*, user: User, request_id: UUID) -> FriendRequestView:
    """Accept a pending request sent to me: we are friends. NotFound unless it is mine to
    answer; Conflict when it is answered already."""
    view = await sync_to_async(_answer)(
        user=user, request_id=request_id, status=RequestStatus.ACCEPTED
    )
    await _accepted_publish(view)
    return view


async def friend_request_decline(*, user: User, request_id: UUID) -> FriendRequestView:
    """Decline a pending request sent to me (the sender is not told)."""
    return await sync_to_async(_answer)(
        user=user, request_id=request_id, status=RequestStatus.DECLINED
    )


async def friend_request_cancel(*, user: User, request_id: UUID) -> None:
    """Withdraw a pending request I sent; the recipient's sockets hear it."""
    view = await sync_to_async(_answer)(
        user=user, request_id=request_id, status=RequestStatus.CANCELLED
    )
    await publish(
        [user_group(view.recipient_id)],
        event={"type": "friend_request", "action": "cancelled", "request": request_payload(view)},
    )


def _unfriend(*, user: User, username: str | None, public_id: UUID | None) -> int:
    target = visible_user_find_read(viewer_id=user.pk, username=username, public_id=public_id)
    low, high = sorted((user.pk, target.pk))
    deleted, _ = Friendship.objects.filter(low_id=low, high_id=high).delete()
    if not deleted:
        raise NotFound(f"{target.username} is not your friend", code="friendship_not_found")
    return target.pk


async def friend_remove(
    *, user: User, username: str | None = None, public_id: UUID | None = None
) -> None:
    """End a friendship (NotFound when there is none)."""
    other = await sync_to_async(_unfriend)(user=user, username=username, public_id=public_id)
    await bud_pages_invalidate([user.pk, other])


def _pending_from(*, user: User, sender_public_id: UUID) -> UUID:
    sender = visible_user_find_read(viewer_id=user.pk, public_id=sender_public_id)
    request_id = (
        FriendRequest.objects.filter(from_user=sender, to_user=user, status=RequestStatus.PENDING)
        .values_list("public_id", flat=True)
        .first()
    )
    if request_id is None:
        raise NotFound(
            f"No pending request from {sender.username}", code="friend_request_not_found"
        )
    return request_id


async def friend_request_answer_from(
    *, user: User, sender_public_id: UUID, accept: bool
) -> FriendRequestView:
    """Accept or decline the pending request the user of that public id sent me (the legacy
    app names the person, not the request)."""
    request_id = await sync_to_async(_pending_from)(user=user, sender_public_id=sender_public_id)
    if accept:
        return await friend_request_accept(user=user, request_id=request_id)
    return await friend_request_decline(user=user, request_id=request_id)
