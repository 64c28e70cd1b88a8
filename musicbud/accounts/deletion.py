"""Account deletion: one service, for the person (``DELETE /api/v1/me``) and for staff (the
admin's action), that walks every part of the person's data (``personal_data``) and ends
every login at once."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from graph.models import ProjectionOutbox
from musicbud.accounts.personal_data import personal_data_parts
from musicbud.accounts.sessions import user_sessions_end, user_sockets_recheck
from musicbud.cache_keys import taste_caches_invalidate
from musicbud.errors import InvalidInput, NotFound
from musicbud.kinds import ITEM_MODELS
from musicbud.models import TasteEdge, User
from musicbud.token_store import user_revoke_all

logger = logging.getLogger(__name__)


async def account_delete(*, user_id: int, password: str) -> None:
    """The person deletes their own account, confirming with their password (422
    ``wrong_password``)."""
    await sync_to_async(_password_check, thread_sensitive=True)(user_id=user_id, password=password)
    await sync_to_async(account_erase, thread_sensitive=True)(user_id=user_id)


def _password_check(*, user_id: int, password: str) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such account")
    if not user.check_password(password):
        raise InvalidInput(
            "The password is wrong",
            code="wrong_password",
            details=[{"field": "password", "message": "Wrong password", "type": "invalid"}],
        )


def _bud_neighbours(user_id: int) -> set[int]:
    """Everyone who shares an item with the user: their cached bud pages may list them."""
    neighbours: set[int] = set()
    for kind in ITEM_MODELS:
        items = TasteEdge.objects.filter(user_id=user_id, kind=kind).values(f"{kind}_id")
        neighbours |= set(
            TasteEdge.objects.filter(Q(**{f"{kind}_id__in": items}))
            .exclude(user_id=user_id)
            .values_list("user_id", flat=True)
            .distinct()
        )
    return neighbours


def account_erase(*, user_id: int, actor_id: int | None = None) -> None:
    """Delete the account and everything about it (sync). ``actor_id``: the staff member
    deleting it from the admin (an admin log entry names them and the account's id only)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such account")
    parts = personal_data_parts()
    for part in parts:
        if part.release is not None:
            part.release(user)
    # Logins first, so no request of theirs starts while the rows go: the families are
    # revoked (and cached as revoked for the bearer hot path), the sessions deleted.
    async_to_sync(user_revoke_all)(user_id=user_id)
    user_sessions_end(user_id=user_id)
    neighbours = _bud_neighbours(user_id)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        for part in parts:
            if part.erase is not None:
                part.erase(user)
        # The cascade takes every row whose foreign key says so; the graph's signals queue
        # the user node's deletion in the outbox in this transaction.
        user.delete()
        # Outbox rows (pending or kept after applying) name the user only by id from now on.
        ProjectionOutbox.objects.filter(user_pk=user_id).update(username="", display_name="")
        if actor_id is not None:
            LogEntry.objects.create(
                user_id=actor_id,
                content_type=ContentType.objects.get_for_model(User),
                object_id=str(user_id),
                object_repr=f"account {user_id} (deleted)",
                action_flag=DELETION,
                change_message="Deleted the account and all its data (account deletion service).",
            )

        def caches_drop() -> None:
            for neighbour in neighbours:
                taste_caches_invalidate(user_id=neighbour)

        transaction.on_commit(caches_drop, robust=True)
    # Open chat sockets of theirs close now, not at their next periodic check.
    async_to_sync(user_sockets_recheck)(user_id=user_id)
    logger.info("account deleted", extra={"user_id": user_id, "by_staff": actor_id is not None})
