"""Blocks: the blocked person's direct messages are refused both ways, and nothing they write
in a channel reaches the blocker (history and open sockets)."""

from __future__ import annotations

from musicbud.chat.fanout import publish, user_group
from musicbud.chat.hops import chat_hop
from musicbud.chat.models import Block
from musicbud.chat.selectors import active_user
from musicbud.errors import InvalidInput
from musicbud.models import User


@chat_hop
def _block(*, user: User, username: str) -> tuple[User, bool]:
    target = active_user(username)
    if target.pk == user.pk:
        raise InvalidInput("You cannot block yourself", code="same_user")
    _, created = Block.objects.get_or_create(blocker=user, blocked=target)
    return target, created


async def chat_block_add(*, user: User, username: str) -> bool:
    """Block someone: their direct messages are refused and nothing of theirs reaches me
    (open sockets too). True when the block is new."""
    target, created = await _block(user=user, username=username)
    await publish([user_group(user.pk)], event=None, block=target.pk)
    return created


@chat_hop
def _unblock(*, user: User, username: str) -> User:
    target = active_user(username)
    Block.objects.filter(blocker=user, blocked=target).delete()
    return target


async def chat_block_remove(*, user: User, username: str) -> None:
    """Lift a block (nothing to lift is fine)."""
    target = await _unblock(user=user, username=username)
    await publish([user_group(user.pk)], event=None, unblock=target.pk)
