from typing import ClassVar

from django.contrib import admin

from .models import (
    Contour,
    Finding,
    FrameScore,
    ScoreLevel,
    ScoreScale,
    SegmentationClass,
    VideoFinding,
    VideoScore,
)


class ScoreLevelInline(admin.TabularInline):
    model = ScoreLevel
    extra = 0


@admin.register(ScoreScale)
class ScoreScaleAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default")
    inlines = [ScoreLevelInline]


@admin.register(SegmentationClass)
class SegmentationClassAdmin(admin.ModelAdmin):
    list_display = ("index", "name", "finding", "score", "colour")


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    """The findings vocabulary: admins add findings here; a finding labels use cannot be deleted (PROTECT)."""

    list_display = ("code", "name", "order")
    list_editable = ("order",)
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return ("code",) if obj is not None else ()  # exports and training read the code


class LabelAdmin(admin.ModelAdmin):
    list_filter = ("source", "validation_level", "annotator")
    list_select_related: ClassVar[tuple[str, ...]] = ("annotator",)
    readonly_fields = ("version", "created_at", "updated_at")


@admin.register(FrameScore)
class FrameScoreAdmin(LabelAdmin):
    list_display = ("frame", "annotator", "score", "validation_level", "source", "updated_at")
    list_select_related = ("annotator", "frame")
    raw_id_fields = ("frame",)


@admin.register(VideoScore)
class VideoScoreAdmin(LabelAdmin):
    list_display = ("video", "annotator", "score", "a_lines", "b_lines", "validation_level", "source")
    list_select_related = ("annotator", "video")
    raw_id_fields = ("video",)


@admin.register(Contour)
class ContourAdmin(LabelAdmin):
    list_display = ("frame", "annotator", "segmentation_class", "validation_level", "source")
    list_select_related = ("annotator", "frame", "segmentation_class")
    raw_id_fields = ("frame",)


@admin.register(VideoFinding)
class VideoFindingAdmin(LabelAdmin):
    list_display = ("video", "annotator", "finding", "present", "validation_level", "source", "updated_at")
    list_filter = ("finding", "present", "validation_level")
    list_select_related: ClassVar[tuple[str, ...]] = ("annotator", "video", "finding")
    raw_id_fields = ("video",)
