from django.contrib import admin

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "format", "status", "rows", "created_by", "created_at", "finished_at")
    list_filter = ("format", "status")
    readonly_fields = ("format", "filters", "status", "file", "rows", "error", "created_by", "created_at",
                       "finished_at")
