from django.contrib import admin
from django.db.models import Count

from .models import Exam, Frame, Patient, Site, Video


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "patient_count", "created_at")
    search_fields = ("name",)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).annotate(n_patients=Count("patients"))

    @admin.display(ordering="n_patients", description="patients")
    def patient_count(self, obj: Site) -> int:
        return obj.n_patients  # type: ignore[attr-defined]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("code", "site", "covid_status", "created_at")
    list_filter = ("site", "covid_status")
    search_fields = ("code",)
    list_select_related = ("site",)


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin):
    list_display = ("id", "patient", "date", "operator")
    list_filter = ("patient__site",)
    search_fields = ("patient__code",)
    list_select_related = ("patient", "patient__site")
    raw_id_fields = ("patient",)


class FrameInline(admin.TabularInline):
    model = Frame
    fields = ("index", "image")
    readonly_fields = ("index", "image")
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ("original_name", "patient_code", "lung_zone", "probe", "frame_count", "fps",
                    "width", "height", "format", "ingest_status")
    list_filter = ("lung_zone", "probe", "format", "ingest_status", "exam__patient__site")
    search_fields = ("original_name", "sha256", "exam__patient__code")
    list_select_related = ("exam__patient",)
    readonly_fields = ("sha256", "frame_count", "width", "height", "fps", "format", "source_file", "created_at")
    raw_id_fields = ("exam",)
    inlines = [FrameInline]

    @admin.display(ordering="exam__patient__code", description="patient")
    def patient_code(self, obj: Video) -> str:
        return obj.exam.patient.code


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ("id", "video", "index")
    list_select_related = ("video",)
    raw_id_fields = ("video",)
    search_fields = ("video__original_name",)
