"""Relationships in the Django admin, read-mostly: the services make and change them (with their
cache invalidation); staff look, and may delete a block or a friendship, which drops both
people's cached bud pages as the services do."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.relationships.caches import bud_pages_invalidate
from musicbud.relationships.models import CompareLink, FriendRequest, Friendship, PrivacySettings


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PairDeletionAdmin(ReadOnlyAdmin):
    """Read-only, but rows of a pair of people (``pair_fields``) may be deleted: after the
    commit both people's cached bud pages drop, so who may see whom holds on the next
    request, as after the services' own changes."""

    pair_fields: tuple[str, str]

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        super().delete_model(request, obj)
        self._pages_drop([obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[models.Model]) -> None:
        rows = list(queryset)
        super().delete_queryset(request, queryset)
        self._pages_drop(rows)

    def _pages_drop(self, rows: Iterable[models.Model]) -> None:
        user_ids = {getattr(row, field) for row in rows for field in self.pair_fields}
        transaction.on_commit(lambda: async_to_sync(bud_pages_invalidate)(user_ids), robust=True)


@admin.register(PrivacySettings)
class PrivacySettingsAdmin(ReadOnlyAdmin):
    list_display = ("user", "discoverable", "taste_visible_to", "updated_at")
    list_filter = ("discoverable", "taste_visible_to")
    search_fields = ("user__username",)


@admin.register(FriendRequest)
class FriendRequestAdmin(ReadOnlyAdmin):
    list_display = ("from_user", "to_user", "status", "created_at", "answered_at")
    list_filter = ("status",)
    search_fields = ("from_user__username", "to_user__username")


@admin.register(Friendship)
class FriendshipAdmin(PairDeletionAdmin):
    pair_fields = ("low_id", "high_id")
    list_display = ("low", "high", "created_at")
    search_fields = ("low__username", "high__username")


@admin.register(CompareLink)
class CompareLinkAdmin(ReadOnlyAdmin):
    # The token is a secret: never listed.
    list_display = ("owner", "created_at", "expires_at", "revoked_at")
    exclude = ("token",)
    search_fields = ("owner__username",)
