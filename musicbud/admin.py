"""Admin for moderators: users (with groups and permissions), the catalogue, taste edges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.models import Album, Artist, Genre, ProviderConnection, TasteEdge, Track, User
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
    # What makes an account more powerful: only a superuser changes it, and never its own (a
    # read-only field is left out of the form, so a POST carrying it changes nothing).
    privilege_fields = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and (not request.user.is_superuser or obj.pk == request.user.pk):
            return readonly + self.privilege_fields
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # A superuser's account (its email, its password) is a superuser's to change: through
        # it anyone else could become one.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class CatalogueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "spotify_id", "lastfm_id", "ytmusic_id", "created_at")
    search_fields = ("name", "spotify_id", "lastfm_id", "ytmusic_id", "public_id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    list_filter = ("created_at",)
    ordering = ("name",)


@admin.register(Genre)
class GenreAdmin(CatalogueAdmin):
    pass


@admin.register(Artist)
class ArtistAdmin(CatalogueAdmin):
    list_filter = ("genres", "created_at")  # type: ignore[assignment]
    filter_horizontal = ("genres",)


@admin.register(Album)
class AlbumAdmin(CatalogueAdmin):
    list_display = ("name", "release_year", "spotify_id", "created_at")  # type: ignore[assignment]
    list_filter = ("release_year", "created_at")  # type: ignore[assignment]
    filter_horizontal = ("artists",)


@admin.register(Track)
class TrackAdmin(CatalogueAdmin):
    list_display = ("name", "album", "duration_ms", "spotify_id", "created_at")
    list_select_related = ("album",)
    autocomplete_fields = ("album",)
    filter_horizontal = ("artists",)


@admin.register(TasteEdge)
class TasteEdgeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "user",
        "relation",
        "kind",
        "track",
        "artist",
        "album",
        "genre",
        "rank",
        "play_count",
        "source",
        "updated_at",
    )
    list_filter = ("relation", "kind", "source", "created_at")
    search_fields = (
        "user__username",
        "track__name",
        "artist__name",
        "album__name",
        "genre__name",
    )
    list_select_related = ("user", "track", "artist", "album", "genre")
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
        for edge in queryset.select_related("user", "track", "artist", "album", "genre"):
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
