from django.contrib import admin

from .models import FramePrediction, ModelVersion, SegmentationPrediction, TrainingJob, VideoPrediction


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "is_active", "created_at", "activated_at")
    list_filter = ("kind", "is_active")


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "created_by", "created_at", "started_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    readonly_fields = ("progress", "log_tail", "error", "task_id", "worker_host", "device")


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
