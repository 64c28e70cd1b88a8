"""Admin for moderators: users (with groups and permissions), the catalogue, taste edges."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.kinds import KINDS
from musicbud.models import ProviderConnection, TasteEdge, User
from musicbud.services.taste import taste_edge_remove


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    # Scheme-less avatar URLs typed by a moderator mean https (Django 6 default, said now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "username",
        "email",
        "display_name",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "groups", "date_joined")
    search_fields = ("username", "email", "display_name", "public_id")
    readonly_fields = ("public_id", "date_joined", "last_login", "updated_at")
    ordering = ("-date_joined",)
    fieldsets = (
        (None, {"fields": ("username", "password", "public_id")}),
        (
            "Profile",
            {
                "fields": (
                    "email",
                    "display_name",
                    "first_name",
                    "last_name",
                    "location",
                    "bio",
                    "avatar_url",
                )
            },
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("date_joined", "last_login", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )


class CatalogueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "spotify_id", "lastfm_id", "ytmusic_id", "created_at")
    search_fields = ("name", "spotify_id", "lastfm_id", "ytmusic_id", "public_id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    list_filter = ("created_at",)
    ordering = ("name",)


# One admin per kind (TrackAdmin, ...): the catalogue defaults and the kind's own options.
for _spec in KINDS:
    admin.site.register(
        _spec.model,
        type(f"{_spec.model.__name__}Admin", (CatalogueAdmin,), dict(_spec.admin)),
    )

ITEM_FIELDS = tuple(spec.kind.value for spec in KINDS)


@admin.register(TasteEdge)
class TasteEdgeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "user",
        "relation",
        "kind",
        *ITEM_FIELDS,
        "rank",
        "play_count",
        "source",
        "updated_at",
    )
    list_filter = ("relation", "kind", "source", "created_at")
    search_fields = ("user__username", *(f"{field}__name" for field in ITEM_FIELDS))
    list_select_related = ("user", *ITEM_FIELDS)
    date_hierarchy = "created_at"

    # Taste edges are written through the taste services only (they keep the similarity
    # statistics, the edge version and the graph outbox in step): moderators look and delete.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TasteEdge | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: TasteEdge) -> None:
        taste_edge_remove(
            user=obj.user, kind=obj.kind, item=getattr(obj, obj.kind), relation=obj.relation
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TasteEdge]) -> None:
        for edge in queryset.select_related("user", *ITEM_FIELDS):
            self.delete_model(request, edge)


@admin.register(ProviderConnection)
class ProviderConnectionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Connections with their account, status and last sync. Tokens are never shown: only
    whether one is stored."""

    list_display = (
        "user",
        "provider",
        "account_id",
        "account_name",
        "status",
        "has_access_token",
        "has_refresh_token",
        "connected_at",
        "last_synced_at",
        "last_sync_status",
    )
    list_filter = ("provider", "status")
    search_fields = ("user__username", "account_id", "account_name")
    list_select_related = ("user",)
    fields = (
        "user",
        "provider",
        "account_id",
        "account_name",
        "status",
        "has_access_token",
        "has_refresh_token",
        "token_expires_at",
        "scope",
        "connected_at",
        "last_synced_at",
        "last_sync_status",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderConnection]:
        return super().get_queryset(request).defer("access_token", "refresh_token")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ProviderConnection | None = None
    ) -> bool:
        return False

    @admin.display(boolean=True, description="access token stored")
    def has_access_token(self, obj: ProviderConnection) -> bool:
        # Deferred: asking for the column loads the ciphertext only, never shown.
        return bool(obj.access_token)

    @admin.display(boolean=True, description="refresh token stored")
    def has_refresh_token(self, obj: ProviderConnection) -> bool:
        return bool(obj.refresh_token)

    @admin.display(description="last sync")
    def last_sync_status(self, obj: ProviderConnection) -> str:
        job = obj.sync_jobs.order_by("-id").first()
        if job is None:
            return "never"
        return f"{job.status} ({job.finished_at or job.created_at:%Y-%m-%d %H:%M})"
