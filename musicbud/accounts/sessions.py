"""Ending every login of an account at once: its token families (refresh tokens refused, access
tokens refused through the cached family state) and its Django sessions (rows and cache)."""

from __future__ import annotations

import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

from musicbud.token_store import user_revoke_all

logger = logging.getLogger(__name__)


def user_sessions_end(*, user_id: int) -> int:
    """Delete every live Django session of the user; returns how many (sync).

    Sessions are keyed by a random key and hold the user id in their signed data, so this reads
    the live sessions' data: a cost paid only when an account's logins must all end (a reset,
    a suspension, a deletion), never on a request's path.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    for session_key, session_data in live.iterator(chunk_size=2000):
        data = store_class().decode(session_data)
        if str(data.get(SESSION_KEY)) == str(user_id):
            store_class(session_key).delete()  # the row and, with cached_db, the cache entry
            ended += 1
    return ended


def user_logins_end(*, user_id: int) -> None:
    """Revoke every token family and end every session of the user (sync); an open chat
    socket of theirs closes at its next check (``CHAT_SESSION_CHECK_SECONDS``)."""
    families = async_to_sync(user_revoke_all)(user_id=user_id)
    sessions = user_sessions_end(user_id=user_id)
    logger.info(
        "logins ended",
        extra={"user_id": user_id, "revoked_families": families, "ended_sessions": sessions},
    )


async def user_sockets_recheck(*, user_id: int) -> None:
    """Tell the user's open chat sockets, on every worker, to check their login now."""
    from musicbud.chat.fanout import publish, user_group

    await publish([user_group(user_id)], event=None, recheck=True)
