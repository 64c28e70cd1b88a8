"""Writes of a user's own profile."""

from __future__ import annotations

from functools import partial

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction

from musicbud.cache_keys import profile_cache_invalidate
from musicbud.errors import InvalidInput
from musicbud.models import User


async def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
) -> User:
    """Change the given fields (None = leave as is, "" = clear); drops the cached profile."""
    return await sync_to_async(_update, thread_sensitive=True)(
        user=user, display_name=display_name, bio=bio, avatar_url=avatar_url
    )


def _update(
    *, user: User, display_name: str | None, bio: str | None, avatar_url: str | None
) -> User:
    changes = {
        name: value
        for name, value in (
            ("display_name", display_name),
            ("bio", bio),
            ("avatar_url", avatar_url),
        )
        if value is not None
    }
    if not changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        # The model's own limits are the last word, whatever the caller validated.
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    except ValidationError as exc:
        raise InvalidInput("Invalid profile", details=exc.message_dict) from exc
    with transaction.atomic():
        user.save(update_fields=[*changes, "updated_at"])
        transaction.on_commit(partial(profile_cache_invalidate, user_id=user.pk), robust=True)
    return user
