"""Writes of a user's own profile."""

from __future__ import annotations

from functools import partial

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction

from musicbud.cache_keys import profile_cache_invalidate
from musicbud.display_text import display_text_problem
from musicbud.errors import InvalidInput
from musicbud.models import User
from musicbud.selectors.profile import ProfileData, profile_refresh


async def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    location: str | None = None,
) -> User:
    """Change the given fields (None = leave as is, "" = clear); drops the cached profile."""
    return await sync_to_async(_update, thread_sensitive=True)(
        user=user,
        display_name=display_name,
        bio=bio,
        avatar_url=avatar_url,
        first_name=first_name,
        last_name=last_name,
        location=location,
    )


def _update(
    *,
    user: User,
    display_name: str | None,
    bio: str | None,
    avatar_url: str | None,
    first_name: str | None,
    last_name: str | None,
    location: str | None,
) -> User:
    changes = {
        name: value
        for name, value in (
            ("display_name", display_name),
            ("bio", bio),
            ("avatar_url", avatar_url),
            ("first_name", first_name),
            ("last_name", last_name),
            ("location", location),
        )
        if value is not None
    }
    if not changes:
        return user
    if display_name and (problem := display_text_problem(display_name)) is not None:
        # Whatever the caller validated: a display name never passes for another.
        raise InvalidInput(
            "Invalid profile",
            details=[{"field": "display_name", "message": problem, "type": "display_text"}],
        )
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        # The model's own limits are the last word, whatever the caller validated.
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    except ValidationError as exc:
        raise InvalidInput(
            "Invalid profile",
            details=[
                {"field": field, "message": message, "type": "invalid"}
                for field, messages in exc.message_dict.items()
                for message in messages
            ],
        ) from exc
    with transaction.atomic():
        user.save(update_fields=[*changes, "updated_at"])
        transaction.on_commit(partial(profile_cache_invalidate, user_id=user.pk), robust=True)
    return user


async def profile_change(*, user: User, changes: dict[str, str]) -> ProfileData:
    """``profile_update`` with the given fields, then the fresh profile (cached again), so the
    writer reads its own change."""
    await profile_update(user=user, **changes)
    return await profile_refresh(user_id=user.pk)
