from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest

from accounts.selectors import is_admin

from .ingest import IngestError
from .models import Exam, Frame, Patient, Site, Video
from .services import video_ingest


class VideoUploadForm(forms.ModelForm):
    """Adding a video in the admin uploads a file through the ingestion service (checked by content,
    decoded, de-identified), never a bare row."""

    upload = forms.FileField(help_text="MP4, MOV, AVI, GIF or multi-frame DICOM")
    patient = forms.ModelChoiceField(Patient.objects.select_related("site"), required=False,
                                     help_text="Required unless a DICOM file maps to its patient by pseudonym")
    site = forms.ModelChoiceField(Site.objects.all(), required=False,
                                  help_text="DICOM only: the site whose pseudonymous codes to match")

    class Meta:
        model = Video
        fields = ["lung_zone", "probe", "scanner_model"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns (its stub says it may be None)
        upload = data.get("upload")
        if upload is None or self.errors:
            return data
        try:
            result = video_ingest(source=upload, original_name=upload.name, patient=data.get("patient"),
                                  site=data.get("site"), lung_zone=data.get("lung_zone") or "",
                                  probe=data.get("probe") or "convex", scanner_model=data.get("scanner_model") or "")
        except IngestError as error:
            raise forms.ValidationError(str(error)) from error
        self.instance = result.video
        self.created = result.created
        return data


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
    list_filter = ("lung_zone", "probe", "format", "ingest_status", "burned_in_masked", "exam__patient__site")
    search_fields = ("original_name", "sha256", "exam__patient__code")
    list_select_related = ("exam__patient",)
    readonly_fields = ("sha256", "frame_count", "width", "height", "fps", "format", "source_file", "burned_in_masked",
                       "created_at")
    exclude = ("upload_name",)  # never editable; shown read-only to admins (get_readonly_fields)
    raw_id_fields = ("exam",)
    inlines = [FrameInline]

    def get_form(self, request: HttpRequest, obj: Video | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = VideoUploadForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Video | None = None):  # type: ignore[no-untyped-def]
        if obj is None:
            return ["upload", "patient", "site", "lung_zone", "probe", "scanner_model"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Video | None = None):  # type: ignore[no-untyped-def]
        if obj is None:
            return ()
        # the uploaded file's name (kept only where PLEURA_KEEP_UPLOAD_NAMES is on) is for admins alone
        return (*self.readonly_fields, "upload_name") if is_admin(request.user) else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Video | None):  # type: ignore[no-untyped-def]
        return [] if obj is None else self.inlines

    def save_model(self, request: HttpRequest, obj: Video, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        # added videos were saved by the ingestion service in the form's clean()

    @admin.display(ordering="exam__patient__code", description="patient")
    def patient_code(self, obj: Video) -> str:
        return obj.exam.patient.code


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ("id", "video", "index")
    list_select_related = ("video",)
    raw_id_fields = ("video",)
    search_fields = ("video__original_name",)
