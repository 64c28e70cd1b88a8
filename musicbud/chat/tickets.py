"""WebSocket tickets: a single-use, 30-second proof of a login that opens one chat socket."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from musicbud.cache import MISSING, async_cache
from musicbud.chat.hops import chat_hop
from musicbud.models import User
from musicbud.selectors.users import principal_get_cached, user_cache_key
from musicbud.token_store import (
    ACTIVE,
    family_state_cached,
    family_state_load,
    family_state_remember,
)

TICKET_TTL_SECONDS = 30
_TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class SocketGrant:
    """Who a socket speaks for, and the login it must stay tied to."""

    user_id: int
    family_id: str | None = None
    session_key: str | None = None


def _ticket_key(ticket: str) -> str:
    return f"chat:ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


async def chat_ticket_issue(*, user: User, family_id: str | None, session_key: str | None) -> str:
    """A new ticket for ``user``'s login (a bearer token's family or a session).

    Browsers cannot put an ``Authorization`` header on a WebSocket, and tokens must never go
    in URLs (they end up in logs); so a signed-in client asks for a ticket over HTTP and opens
    ``/ws/chat/?ticket=...``. The ticket is random, kept in the cache (Redis when configured,
    shared by every worker) under a hash of itself, and taken out by the first socket that
    presents it (``chat_ticket_redeem``)."""
    ticket = secrets.token_urlsafe(32)
    grant = SocketGrant(user_id=user.pk, family_id=family_id, session_key=session_key)
    await async_cache.set(_ticket_key(ticket), grant, TICKET_TTL_SECONDS)
    return ticket


async def chat_grant_is_live(*, grant: SocketGrant) -> bool:
    """The user still exists and is active, and the login the socket came from is not
    revoked (logged out, password changed, session ended)."""
    family_state, prefetched = MISSING, None
    if grant.family_id is not None:
        # The family's state and the cached user in one round trip, as for a bearer request.
        family_state, prefetched = await family_state_cached(
            family_id=grant.family_id, key=user_cache_key(grant.user_id)
        )
    principal = await principal_get_cached(user_id=grant.user_id, prefetched=prefetched)
    if principal is None or not principal.user.is_active:
        return False
    if grant.family_id is not None:
        if family_state is MISSING:  # the cache lost or never had it: the row decides
            loaded = await chat_hop(family_state_load)(family_id=grant.family_id)
            await family_state_remember(family_id=grant.family_id, state=loaded)
            return loaded.active
        return bool(family_state == ACTIVE)
    if grant.session_key is not None:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        return bool(await store().aexists(grant.session_key))
    return True


async def chat_ticket_redeem(*, ticket: str) -> SocketGrant | None:
    """The grant of a valid, unused, unexpired ticket whose login is live; None otherwise.
    The ticket is spent either way."""
    if not _TICKET_PATTERN.match(ticket):
        return None
    grant: SocketGrant | None = await async_cache.pop(_ticket_key(ticket))
    if grant is None or not await chat_grant_is_live(grant=grant):
        return None
    return grant
