"""Relationships in the Django admin, read-mostly: a block or a friendship changed here skips
the services' cache invalidation, so the admin shows them and lets staff delete them only (cached
bud pages then follow at their TTL)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from musicbud.relationships.models import CompareLink, FriendRequest, Friendship, PrivacySettings


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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
class FriendshipAdmin(ReadOnlyAdmin):
    list_display = ("low", "high", "created_at")
    search_fields = ("low__username", "high__username")


@admin.register(CompareLink)
class CompareLinkAdmin(ReadOnlyAdmin):
    # The token is a secret: never listed.
    list_display = ("owner", "created_at", "expires_at", "revoked_at")
    exclude = ("token",)
    search_fields = ("owner__username",)
