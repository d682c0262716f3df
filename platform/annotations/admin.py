from typing import ClassVar

from django.contrib import admin

from .models import Contour, FrameScore, ScoreLevel, ScoreScale, SegmentationClass, VideoScore


class ScoreLevelInline(admin.TabularInline):
    model = ScoreLevel
    extra = 0


@admin.register(ScoreScale)
class ScoreScaleAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default")
    inlines = [ScoreLevelInline]


@admin.register(SegmentationClass)
class SegmentationClassAdmin(admin.ModelAdmin):
    list_display = ("index", "name", "score", "colour")


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
