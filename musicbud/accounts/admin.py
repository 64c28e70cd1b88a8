"""Staff's queue of reports (open first, with the reported content) and the suspensions."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.accounts.models import ExportJob, Report, Suspension
from musicbud.accounts.moderation import account_suspend, account_unsuspend, reports_resolve


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "status", "reason", "reported_user", "reporter", "created_at")
    list_filter = ("status", "reason")
    search_fields = ("reported_user__username", "reporter__username", "note")
    ordering = ("status", "-created_at")
    readonly_fields = (
        "reporter",
        "reported_user",
        "message",
        "message_content",
        "reason",
        "note",
        "created_at",
        "resolved_at",
        "resolved_by",
    )
    fields = (*readonly_fields[:6], "status", "resolution", *readonly_fields[6:])
    actions = ("resolve", "suspend_reported")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Mark the selected reports resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        done = reports_resolve(
            report_ids=list(queryset.values_list("pk", flat=True)), staff_id=request.user.pk
        )
        self.message_user(request, f"{done} report(s) resolved.")

    @admin.action(description="Suspend the reported accounts and resolve the reports")
    def suspend_reported(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        user_ids = set(queryset.values_list("reported_user_id", flat=True))
        done = sum(account_suspend(user_id=pk, staff_id=request.user.pk) for pk in user_ids)
        reports_resolve(
            report_ids=list(queryset.values_list("pk", flat=True)),
            staff_id=request.user.pk,
            resolution="Account suspended.",
        )
        self.message_user(request, f"{done} account(s) suspended.")


@admin.register(Suspension)
class SuspensionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "suspended_by", "created_at")
    readonly_fields = ("user", "suspended_by", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suspend from the user list or the report queue (ends the logins)

    # Deleting a suspension here lifts it: the account is active again.
    def delete_model(self, request: HttpRequest, obj: Suspension) -> None:
        account_unsuspend(user_id=obj.user_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suspension]) -> None:
        for user_id in list(queryset.values_list("user_id", flat=True)):
            account_unsuspend(user_id=user_id)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "user", "status", "progress", "created_at", "expires_at")
    list_filter = ("status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExportJob | None = None) -> bool:
        return False
