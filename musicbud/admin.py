"""Admin for moderators: users (with groups and permissions, their taste counts and
connections), the catalogue, taste edges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from musicbud.accounts.deletion import account_erase
from musicbud.accounts.moderation import account_suspend, account_unsuspend
from musicbud.connections.admin import connections_table  # and registers the connections
from musicbud.kinds import KINDS
from musicbud.models import Provider, Relation, TasteEdge, User
from musicbud.selectors.profile import taste_counts_read
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
    readonly_fields = (
        "public_id",
        "date_joined",
        "last_login",
        "updated_at",
        "taste",
        "connections",
        "email_verified_at",
    )
    ordering = ("-date_joined",)
    fieldsets = (
        (None, {"fields": ("username", "password", "public_id")}),
        ("Taste and connections", {"fields": ("taste", "connections")}),
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
        ("Dates", {"fields": ("date_joined", "last_login", "updated_at", "email_verified_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )
    # What makes an account more powerful: only a superuser changes it, and never its own (a
    # read-only field is left out of the form, so a POST carrying it changes nothing).
    privilege_fields = ("is_staff", "is_superuser", "groups", "user_permissions")

    @admin.display(description="connections")
    def connections(self, obj: User) -> SafeString:
        return connections_table(obj.pk)

    @admin.display(description="taste edges")
    def taste(self, obj: User) -> SafeString:
        """Edges per relation and kind, each count a link to those edges."""
        counts = taste_counts_read(user_id=obj.pk)
        edges = reverse("admin:musicbud_tasteedge_changelist")
        kinds = [spec.kind.value for spec in KINDS]
        header = format_html_join("", "<th>{}</th>", ((spec.plural,) for spec in KINDS))
        rows = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (
                    label,
                    format_html_join(
                        "",
                        '<td><a href="{}?{}">{}</a></td>',
                        (
                            (edges, _edge_filter(obj.pk, relation, kind), cell[kind])
                            for kind in kinds
                        ),
                    ),
                )
                for relation, label, cell in (
                    (Relation.LIKE, "likes", counts.likes),
                    (Relation.TOP, "top", counts.top),
                    (Relation.PLAYED, "played", counts.played),
                )
            ),
        )
        return format_html("<table><tr><th></th>{}</tr>{}</table>", header, rows)

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

    # Deleting an account here is the account deletion service, as for the person themselves:
    # every part of their data, their sessions and tokens, their channels handed over.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        account_erase(user_id=obj.pk, actor_id=request.user.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user_id in list(queryset.values_list("pk", flat=True)):
            account_erase(user_id=user_id, actor_id=request.user.pk)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # account_erase writes the entry, naming the account by id only (its username is
        # personal data, and free for someone else once the account is gone).
        return []

    @admin.action(description="Suspend the selected accounts (ends their logins at once)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = sum(
            account_suspend(user_id=pk, staff_id=request.user.pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} account(s) suspended.")

    @admin.action(description="Lift the suspension of the selected accounts")
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = sum(account_unsuspend(user_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} suspension(s) lifted.")

    actions = ("suspend", "unsuspend")


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


def _edge_filter(user_id: int, relation: str, kind: str) -> str:
    """The taste-edge list's query string for one user's edges of one relation and kind."""
    query: dict[str, str | int] = {"user__id__exact": user_id, "relation": relation, "kind": kind}
    return urlencode(query)


@admin.register(TasteEdge)
class TasteEdgeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # One item column (an edge holds one item, of its kind), and the one number its relation
    # has, instead of four item columns and two number columns mostly empty.
    list_display = ("user", "relation", "kind", "item", "weight", "source", "updated_at")
    list_filter = ("relation", "kind", "source", "created_at")
    search_fields = ("user__username", *(f"{field}__name" for field in ITEM_FIELDS))
    list_select_related = ("user", *ITEM_FIELDS)
    date_hierarchy = "created_at"

    @admin.display(description="item")
    def item(self, obj: TasteEdge) -> SafeString:
        item = getattr(obj, obj.kind)
        url = reverse(f"admin:musicbud_{type(item)._meta.model_name}_change", args=[item.pk])
        return format_html('<a href="{}">{}</a>', url, item.name)

    @admin.display(description="rank / plays")
    def weight(self, obj: TasteEdge) -> str:
        if obj.relation == Relation.TOP and obj.rank is not None:
            return f"#{obj.rank}"
        if obj.relation == Relation.PLAYED and obj.play_count is not None:
            return f"{obj.play_count} play{'s' if obj.play_count != 1 else ''}"
        return ""

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
