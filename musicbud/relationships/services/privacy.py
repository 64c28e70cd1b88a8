"""Privacy settings: reading them, and a change that takes effect on the next request."""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import transaction

from musicbud.relationships.caches import bud_pages_invalidate, co_holder_ids_read
from musicbud.relationships.models import Audience, PrivacySettings


@dataclass(frozen=True, slots=True)
class PrivacyView:
    discoverable: str
    taste_visible_to: str


def privacy_read(*, user_id: int) -> PrivacyView:
    row = (
        PrivacySettings.objects.filter(user_id=user_id)
        .values_list("discoverable", "taste_visible_to")
        .first()
    )
    if row is None:
        return PrivacyView(discoverable=Audience.EVERYONE, taste_visible_to=Audience.EVERYONE)
    return PrivacyView(discoverable=row[0], taste_visible_to=row[1])


async def privacy_get(*, user_id: int) -> PrivacyView:
    return await sync_to_async(privacy_read)(user_id=user_id)


def _privacy_write(*, user_id: int, changes: dict[str, str]) -> tuple[PrivacyView, set[int]]:
    with transaction.atomic():
        settings, _ = PrivacySettings.objects.select_for_update().get_or_create(user_id=user_id)
        before = (settings.discoverable, settings.taste_visible_to)
        for field, value in changes.items():
            setattr(settings, field, Audience(value).value)
        settings.save()
    view = PrivacyView(
        discoverable=settings.discoverable, taste_visible_to=settings.taste_visible_to
    )
    # Whoever may have me among their buds has cached pages to drop when I appear or vanish,
    # or my row shows or hides the items we share.
    changed = (settings.discoverable, settings.taste_visible_to) != before
    affected = co_holder_ids_read(user_id=user_id) if changed else set()
    return view, affected


async def privacy_change(*, user_id: int, changes: dict[str, str]) -> PrivacyView:
    """Change ``discoverable`` and/or ``taste_visible_to`` (others stay). From the next
    request on, every listing follows: the cached bud pages I could appear in drop."""
    view, affected = await sync_to_async(_privacy_write)(user_id=user_id, changes=changes)
    await bud_pages_invalidate(affected)
    return view
