"""What a change of who may see whom makes stale, dropped at once (the next request answers
from the new state): the cached bud pages of everyone the change can show or hide someone to."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import QuerySet

from musicbud.cache import async_cache, redis_client
from musicbud.cache_keys import buds_generation_key
from musicbud.kinds import KINDS
from musicbud.models import TasteEdge


def co_holder_ids_read(*, user_id: int) -> set[int]:
    """Everyone who holds an item ``user_id`` holds (in any relation): whoever may have them
    among their buds (sync: one query)."""
    parts: list[QuerySet[TasteEdge, tuple[int]]] = []
    for spec in KINDS:
        column = f"{spec.kind.value}_id"
        mine = TasteEdge.objects.filter(user_id=user_id, kind=spec.kind.value).values(column)
        parts.append(
            TasteEdge.objects.filter(kind=spec.kind.value, **{f"{column}__in": mine})
            .exclude(user_id=user_id)
            .values_list("user_id")
        )
    first, *rest = parts
    return {int(pk) for (pk,) in first.union(*rest)}


async def bud_pages_invalidate(user_ids: Iterable[int]) -> None:
    """Bump each user's bud generation: all their cached bud pages and counts drop at once.
    With Redis one pipelined round trip for all of them (a privacy change may touch
    thousands)."""
    keys = [buds_generation_key(user_id) for user_id in sorted(set(user_ids))]
    if not keys:
        return
    if not async_cache.uses_redis:
        for key in keys:
            cache.add(key, 0, timeout=None)
            cache.incr(key)
        return
    async with redis_client().pipeline(transaction=False) as pipe:
        for key in keys:
            # INCR of an absent counter starts it at 1, as add(0) + incr does.
            pipe.incr(async_cache.make_key(key))
        await pipe.execute()
