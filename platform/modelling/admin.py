from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User

from .models import (
    FramePrediction,
    JobStatus,
    JobType,
    ModelActivation,
    ModelVersion,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from .services import (
    JobSubmissionError,
    model_version_activate,
    model_version_rollback,
    training_job_cancel,
    training_job_submit,
    training_job_validate,
)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "is_active", "created_at", "activated_at")
    list_filter = ("kind", "is_active")
    readonly_fields = ("kind", "name", "weights", "config", "metrics", "data_snapshot", "parent", "is_active",
                       "created_at", "activated_at")
    actions = ["activate", "roll_back"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training jobs

    @admin.action(description="Activate the selected version (one per kind)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset:
            try:
                model_version_activate(version=version, by=cast(User, request.user))  # admin: a staff user
                self.message_user(request, f"{version} is now active.")
            except ValueError as error:
                self.message_user(request, str(error), level=messages.ERROR)

    @admin.action(description="Roll back the kind of the selected version to its previous active version")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for kind in sorted(set(queryset.values_list("kind", flat=True))):
            try:
                version = model_version_rollback(kind=kind, by=cast(User, request.user))  # admin: a staff user
                self.message_user(request, f"{kind} rolled back to {version}.")
            except ValueError as error:
                self.message_user(request, str(error), level=messages.ERROR)


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "previous", "version", "activated_by", "is_rollback")
    list_filter = ("kind", "is_rollback")
    list_select_related = ("version", "previous", "activated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TrainingJobForm(forms.ModelForm):
    """Start a job: validated by the same service as the API, so errors show on the form."""

    class Meta:
        model = TrainingJob
        fields = ["kind", "parameters", "data_selection"]
        help_texts = {
            "parameters": 'e.g. {"model": "reg_stn", "epochs": 5, "size": [64, 64], "batch_size": 32}',
            "data_selection": 'e.g. {"min_level": 1, "consensus": "majority", "label_kind": "frame"}',
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns (its stub says it may be None)
        try:
            training_job_validate(kind=data.get("kind", ""), parameters=data.get("parameters") or {},
                                  data_selection=data.get("data_selection") or {})
        except JobSubmissionError as error:
            raise forms.ValidationError(str(error)) from error
        return data


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    form = TrainingJobForm
    list_display = ("id", "job_type", "kind", "status", "progress_summary", "created_by", "created_at", "started_at",
                    "finished_at")
    list_filter = ("job_type", "kind", "status")
    list_select_related = ("created_by",)
    readonly_fields = ("job_type", "status", "progress", "log_tail", "error", "model_version", "attempts", "task_id",
                       "worker_host", "device", "created_by", "created_at", "started_at", "finished_at")
    actions = ["retrain", "cancel"]
    change_form_template = "admin/modelling/trainingjob/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: TrainingJob | None = None) -> tuple:
        if obj is not None:
            return ("kind", "parameters", "data_selection", *self.readonly_fields)
        return self.readonly_fields

    @admin.display(description="progress")
    def progress_summary(self, job: TrainingJob) -> str:
        progress = job.progress or {}
        if job.job_type == JobType.SCORING and progress.get("steps"):
            return f"{progress.get('step', 0)}/{progress['steps']} videos"
        if "epoch" not in progress:
            return "—"
        loss = progress.get("loss")
        return f"epoch {progress['epoch']}/{progress.get('epochs', '?')}" + (
            f", loss {loss:.3f}" if isinstance(loss, float) else "")

    def save_model(self, request: HttpRequest, obj: TrainingJob, form: forms.ModelForm, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        job = training_job_submit(kind=obj.kind, parameters=obj.parameters, data_selection=obj.data_selection,
                                  created_by=cast(User, request.user))  # admin: a staff user
        obj.pk = job.pk
        obj.refresh_from_db()

    @admin.action(description="Retrain: queue a new job with the same model, parameters and data selection")
    def retrain(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in queryset.filter(job_type=JobType.TRAINING):  # (scoring jobs are queued by activation)
            try:
                new = training_job_submit(kind=job.kind, parameters=job.parameters,
                                          data_selection=job.data_selection,
                                          created_by=cast(User, request.user))  # admin: a staff user
                self.message_user(request, f"Queued job {new.pk} (retrain of job {job.pk}).")
            except JobSubmissionError as error:
                self.message_user(request, f"Job {job.pk}: {error}", level=messages.ERROR)

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in queryset.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
            training_job_cancel(job=job)
        self.message_user(request, "Cancellation requested; running jobs stop at their next batch.")


@admin.register(FramePrediction)
class FramePredictionAdmin(admin.ModelAdmin):
    list_display = ("frame", "model_version", "score")
    list_select_related = ("frame", "model_version")
    raw_id_fields = ("frame",)


@admin.register(VideoPrediction)
class VideoPredictionAdmin(admin.ModelAdmin):
    list_display = ("video", "model_version", "score")
    list_select_related = ("video", "model_version")
    raw_id_fields = ("video",)


@admin.register(SegmentationPrediction)
class SegmentationPredictionAdmin(admin.ModelAdmin):
    list_display = ("frame", "model_version")
    list_select_related = ("frame", "model_version")
    raw_id_fields = ("frame",)
