"""Compare links: made with 192 random bits (``secrets``), listed, revoked by their owner."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from musicbud.relationships.models import CompareLink
from musicbud.relationships.selectors import CompareLinkNotFound, CompareLinkView

COMPARE_LINK_DAYS = 7
# 24 bytes: 192 bits, 32 URL-safe characters.
TOKEN_BYTES = 24


async def compare_link_create(*, user_id: int) -> CompareLinkView:
    """A new link to compare with me, valid for seven days."""
    link = await CompareLink.objects.acreate(
        owner_id=user_id,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        expires_at=timezone.now() + timedelta(days=COMPARE_LINK_DAYS),
    )
    return CompareLinkView(token=link.token, created_at=link.created_at, expires_at=link.expires_at)


async def compare_link_revoke(*, user_id: int, token: str) -> None:
    """Revoke one of my live links; NotFound otherwise (someone else's looks unknown)."""
    revoked = await CompareLink.objects.filter(
        owner_id=user_id, token=token, revoked_at__isnull=True
    ).aupdate(revoked_at=timezone.now())
    if not revoked:
        raise CompareLinkNotFound
