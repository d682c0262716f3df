from django.contrib import admin

from .models import DicomwebEndpoint, ImportedInstance, UidMapping


@admin.register(DicomwebEndpoint)
class DicomwebEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "qido_url", "auth", "ae_title", "keep_uid_mapping", "auto_import"]
    exclude = ["secret"]  # set through the API; never shown


@admin.register(ImportedInstance)
class ImportedInstanceAdmin(admin.ModelAdmin):
    list_display = ["uid", "video", "endpoint", "via", "created_at"]


@admin.register(UidMapping)
class UidMappingAdmin(admin.ModelAdmin):
    list_display = ["site", "kind", "pseudonym", "created_at"]
