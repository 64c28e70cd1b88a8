"""Cache coherence only (no business logic): a changed or deleted user leaves the caches."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from musicbud.cache_keys import profile_cache_invalidate
from musicbud.models import User
from musicbud.selectors.users import user_cache_invalidate


def _user_caches_invalidate(user_id: int) -> None:
    user_cache_invalidate(user_id=user_id)
    # The cached profile shows display name, bio, avatar: a moderator's edit must show too.
    profile_cache_invalidate(user_id=user_id)


@receiver(post_save, sender=User, dispatch_uid="musicbud.user_cache.saved")
@receiver(post_delete, sender=User, dispatch_uid="musicbud.user_cache.deleted")
def _user_changed(sender: type[User], instance: User, **kwargs: Any) -> None:
    # Every write path (admin, services, manage.py) goes through save()/delete(), so the
    # next request re-reads the user. QuerySet.update() bypasses this: do not use it on users.
    user_id = instance.pk
    _user_caches_invalidate(user_id)
    # Again after commit: a concurrent request may have re-cached the old row meanwhile.
    transaction.on_commit(lambda: _user_caches_invalidate(user_id))
