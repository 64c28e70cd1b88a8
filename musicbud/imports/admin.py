"""Admin of history uploads: each import job, read-only (the job writes them)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from musicbud.imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "user",
        "format",
        "status",
        "progress_done",
        "progress_total",
        "plays",
        "likes",
        "top",
        "skipped",
        "unmatched",
        "error_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "format")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = tuple(field.name for field in ImportJob._meta.get_fields() if field.concrete)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
