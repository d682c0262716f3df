from typing import cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User

from .models import AgreementReport
from .services import agreement_report_request


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ("id", "scope", "status", "stale", "created_at", "computed_at")
    list_filter = ("status", "stale")
    readonly_fields = ("raters", "statistics", "status", "stale", "error", "created_by", "created_at", "computed_at")
    actions = ["recompute"]

    def save_model(self, request: HttpRequest, obj: AgreementReport, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        if change:
            return super().save_model(request, obj, form, change)
        report = agreement_report_request(scope=obj.scope, created_by=cast(User, request.user))  # admin: staff
        obj.pk = report.pk
        obj.refresh_from_db()

    @admin.action(description="Compute again (new report with the same scope)")
    def recompute(self, request: HttpRequest, queryset: QuerySet[AgreementReport]) -> None:
        for report in queryset:
            agreement_report_request(scope=report.scope, created_by=cast(User, request.user))  # admin: staff
        self.message_user(request, "Queued.", level=messages.INFO)
