"""Blocks from the chat API: the relationships slice stores them and ends what a block ends
(friendship, pending requests; hidden both ways everywhere); chat adds the open sockets."""

from __future__ import annotations

from musicbud.chat.fanout import publish, user_group
from musicbud.chat.hops import chat_hop
from musicbud.chat.selectors import active_user
from musicbud.errors import InvalidInput
from musicbud.models import User
from musicbud.relationships.services.blocks import (
    block_caches_invalidate,
    block_write,
    unblock_write,
)


@chat_hop
def _block(*, user: User, username: str) -> tuple[User, bool]:
    target = active_user(username)
    if target.pk == user.pk:
        raise InvalidInput("You cannot block yourself", code="same_user")
    return target, block_write(blocker_id=user.pk, blocked_id=target.pk)


async def chat_block_add(*, user: User, username: str) -> bool:
    """Block someone: their direct messages are refused and nothing of theirs reaches me
    (open sockets too); our friendship and pending requests end, and we vanish from each
    other's listings. True when the block is new."""
    target, created = await _block(user=user, username=username)
    await block_caches_invalidate(first_id=user.pk, second_id=target.pk)
    await publish([user_group(user.pk)], event=None, block=target.pk)
    return created


@chat_hop
def _unblock(*, user: User, username: str) -> User:
    target = active_user(username)
    unblock_write(blocker_id=user.pk, blocked_id=target.pk)
    return target


async def chat_block_remove(*, user: User, username: str) -> None:
    """Lift a block (nothing to lift is fine)."""
    target = await _unblock(user=user, username=username)
    await block_caches_invalidate(first_id=user.pk, second_id=target.pk)
    await publish([user_group(user.pk)], event=None, unblock=target.pk)
