"""Admin for moderators: users (with groups and permissions), the catalogue, taste edges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.connections import admin as connection_admin  # noqa: F401 - registers it
from musicbud.kinds import KINDS
from musicbud.models import Provider, TasteEdge, User
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
    # Every provider's id column of the catalogue (``CatalogueItem``), by the ``Provider`` choices.
    search_fields = ("name", *(f"{provider}_id" for provider in Provider.values), "public_id")
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
