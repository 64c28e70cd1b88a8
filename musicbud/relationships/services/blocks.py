"""Blocks, for every area: a block ends the friendship and every pending request between the
two, and hides each from the other everywhere from the next request on (the table is the chat
slice's, ``musicbud.chat.models.Block``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from musicbud.chat.models import Block
from musicbud.relationships.caches import bud_pages_invalidate
from musicbud.relationships.models import FriendRequest, Friendship, RequestStatus
from musicbud.relationships.services.friends import pair_lock


def block_write(*, blocker_id: int, blocked_id: int) -> bool:
    """Store the block and end what it ends (sync, one transaction); True when it is new."""
    low, high = sorted((blocker_id, blocked_id))
    with transaction.atomic():
        pair_lock(blocker_id, blocked_id)
        _, created = Block.objects.get_or_create(blocker_id=blocker_id, blocked_id=blocked_id)
        Friendship.objects.filter(low_id=low, high_id=high).delete()
        FriendRequest.objects.filter(
            Q(from_user_id=blocker_id, to_user_id=blocked_id)
            | Q(from_user_id=blocked_id, to_user_id=blocker_id),
            status=RequestStatus.PENDING,
        ).update(status=RequestStatus.CANCELLED, answered_at=timezone.now())
    return created


def unblock_write(*, blocker_id: int, blocked_id: int) -> None:
    """Lift a block (sync; nothing to lift is fine)."""
    Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()


async def block_caches_invalidate(*, first_id: int, second_id: int) -> None:
    """After a block is stored or lifted: both people's cached bud pages drop."""
    await bud_pages_invalidate([first_id, second_id])
