"""Projection plumbing, no business logic: every save and delete of a user or item (admin,
services, cascades) records its outbox row, and deletions their statistics, in its transaction."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from graph.outbox import item_node_record, user_node_record
from graph.stats import taste_stats_item_forget, taste_stats_user_forget
from graph.writes import projection_queued
from musicbud.kinds import KIND_BY_MODEL, KINDS
from musicbud.models import CatalogueItem, User

# The user fields the projection holds; a save touching none of them (last_login) is skipped.
PROJECTED_USER_FIELDS = frozenset({"username", "display_name", "is_active"})


@receiver(post_save, sender=User, dispatch_uid="graph.user_saved")
def _user_saved(
    sender: type[User], instance: User, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    if update_fields is not None and not PROJECTED_USER_FIELDS & set(update_fields):
        return
    user_node_record(user=instance, queued=projection_queued())


@receiver(pre_delete, sender=User, dispatch_uid="graph.user_deleting")
def _user_deleting(sender: type[User], instance: User, **kwargs: Any) -> None:
    # Before the cascade: the statistics are computed from the edges about to go.
    taste_stats_user_forget(user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="graph.user_deleted")
def _user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    user_node_record(user=instance, queued=projection_queued(), deleted=True)


def _item_saved(
    sender: type[CatalogueItem],
    instance: CatalogueItem,
    created: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    # A new item reaches Neo4j with its first taste edge; a rename must reach it now.
    if created or (update_fields is not None and "name" not in update_fields):
        return
    item_node_record(kind=KIND_BY_MODEL[sender], item=instance, queued=projection_queued())


def _item_deleting(sender: type[CatalogueItem], instance: CatalogueItem, **kwargs: Any) -> None:
    taste_stats_item_forget(kind=KIND_BY_MODEL[sender], item_id=instance.pk)


def _item_deleted(sender: type[CatalogueItem], instance: CatalogueItem, **kwargs: Any) -> None:
    item_node_record(
        kind=KIND_BY_MODEL[sender], item=instance, queued=projection_queued(), deleted=True
    )


for _spec in KINDS:
    _uid = f"graph.{_spec.kind.value}"
    post_save.connect(_item_saved, sender=_spec.model, dispatch_uid=f"{_uid}_saved")
    pre_delete.connect(_item_deleting, sender=_spec.model, dispatch_uid=f"{_uid}_deleting")
    post_delete.connect(_item_deleted, sender=_spec.model, dispatch_uid=f"{_uid}_deleted")
