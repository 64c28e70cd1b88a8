"""WebSocket tickets: a single-use, 30-second proof of a login that opens one chat socket."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from musicbud.cache import MISSING, async_cache
from musicbud.chat.hops import chat_hop
from musicbud.models import User
from musicbud.selectors.users import CachedPrincipal, principal_get_cached, principal_load
from musicbud.token_store import (
    ACTIVE,
    family_cache_key,
    family_state_load,
    family_state_remember,
)

TICKET_TTL_SECONDS = 30
_TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class SocketGrant:
    """Who a socket speaks for, and what the grant depended on when it was made: the login
    (a token family or a session) and the password (its stamp, a keyed digest of the hash)."""

    user_id: int
    password_stamp: str
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
    principal = await principal_get_cached(user_id=user.pk)
    if principal is None:
        raise User.DoesNotExist
    grant = SocketGrant(
        user_id=user.pk,
        password_stamp=principal.password_stamp,
        family_id=family_id,
        session_key=session_key,
    )
    await async_cache.set(_ticket_key(ticket), grant, TICKET_TTL_SECONDS)
    return ticket


@chat_hop
def _principal_fresh(*, user_id: int) -> CachedPrincipal | None:
    return principal_load(user_id=user_id)


async def chat_grant_is_live(*, grant: SocketGrant) -> bool:
    """The user still exists and is active, its password is the one the grant was made
    under, and the login the socket came from is not revoked (logged out, session ended).

    The user is read from its row, not the cache: a password or ``is_active`` written by any
    path (this API, the admin, ``changepassword``, a queryset ``update`` that sends no
    signal to drop the cache) or a deleted user ends the socket at its next check."""
    principal = await _principal_fresh(user_id=grant.user_id)
    if (
        principal is None
        or not principal.user.is_active
        or not hmac.compare_digest(principal.password_stamp, grant.password_stamp)
    ):
        return False
    if grant.family_id is not None:
        family_state = await async_cache.get(family_cache_key(grant.family_id), MISSING)
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
