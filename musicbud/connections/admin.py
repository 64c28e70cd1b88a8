"""Admin of the connections: the account, status and last sync of each, never a token."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from musicbud.connections.models import ProviderConnection


def connections_table(user_id: int) -> SafeString:
    """A user's connections as a table for the user's admin page (read-only, never a token),
    each linking to its own page."""
    rows = [
        (
            reverse("admin:musicbud_providerconnection_change", args=[connection.pk]),
            connection.provider,
            connection.account_name or connection.account_id,
            connection.status,
            f"{connection.connected_at:%Y-%m-%d %H:%M}",
            last_sync_text(connection),
        )
        for connection in ProviderConnection.objects.filter(user_id=user_id)
        .defer("access_token", "refresh_token")
        .order_by("provider")
    ]
    if not rows:
        return format_html("{}", "none")
    return format_html(
        "<table><tr><th>provider</th><th>account</th><th>status</th><th>connected</th>"
        "<th>last sync</th></tr>{}</table>",
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            rows,
        ),
    )


def last_sync_text(connection: ProviderConnection) -> str:
    job = connection.sync_jobs.order_by("-id").first()
    if job is None:
        return "never"
    return f"{job.status} ({job.finished_at or job.created_at:%Y-%m-%d %H:%M})"


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
        return last_sync_text(obj)
