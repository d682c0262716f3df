from django.contrib import admin

from .models import AgreementReport


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at")
    readonly_fields = ("scope", "raters", "statistics", "created_at")
