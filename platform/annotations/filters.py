"""Query-string filters for labels."""

import django_filters

from api.filters import UtcDateTimeFilter
from studies.models import CovidStatus, LungZone, Probe

from .models import Contour, FrameScore, LabelChange, LabelSource, VideoFinding, VideoScore


class LabelFilter(django_filters.FilterSet):
    annotator = django_filters.NumberFilter(field_name="annotator_id")
    validation_level = django_filters.NumberFilter()
    min_validation_level = django_filters.NumberFilter(field_name="validation_level", lookup_expr="gte")
    source = django_filters.ChoiceFilter(choices=LabelSource.choices)
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    @classmethod
    def with_video_filters(cls, prefix: str) -> dict:
        return {
            "video": django_filters.NumberFilter(field_name=f"{prefix}_id"),
            "patient": django_filters.NumberFilter(field_name=f"{prefix}__exam__patient_id"),
            "site": django_filters.NumberFilter(field_name=f"{prefix}__exam__patient__site_id"),
            "covid_status": django_filters.ChoiceFilter(field_name=f"{prefix}__exam__patient__covid_status",
                                                        choices=CovidStatus.choices),
            "probe": django_filters.ChoiceFilter(field_name=f"{prefix}__probe", choices=Probe.choices),
            "lung_zone": django_filters.ChoiceFilter(field_name=f"{prefix}__lung_zone", choices=LungZone.choices),
        }


def _label_filter(model: type, prefix: str, extra: dict) -> type[django_filters.FilterSet]:
    attrs = {**LabelFilter.with_video_filters(prefix), **extra,
             "Meta": type("Meta", (), {"model": model, "fields": ["annotator", "validation_level", "source"]})}
    return type(f"{model.__name__}Filter", (LabelFilter,), attrs)


FrameScoreFilter = _label_filter(FrameScore, "frame__video", {
    "frame": django_filters.NumberFilter(field_name="frame_id"),
    "score": django_filters.NumberFilter(),
})
VideoScoreFilter = _label_filter(VideoScore, "video", {"score": django_filters.NumberFilter()})
VideoFindingFilter = _label_filter(VideoFinding, "video", {
    "finding": django_filters.CharFilter(field_name="finding__code", help_text="Finding code, e.g. b_lines"),
    "present": django_filters.BooleanFilter(),
})
ContourFilter = _label_filter(Contour, "frame__video", {
    "frame": django_filters.NumberFilter(field_name="frame_id"),
    "segmentation_class": django_filters.NumberFilter(field_name="segmentation_class__index"),
})


class LabelChangeFilter(django_filters.FilterSet):
    label_type = django_filters.ChoiceFilter(choices=[(k, k) for k in ("frame_score", "video_score", "video_finding", "contour")])
    owner = django_filters.NumberFilter(field_name="owner_id")
    video = django_filters.NumberFilter(field_name="video_id")
    frame = django_filters.NumberFilter(field_name="frame_id")
    label_id = django_filters.NumberFilter()
    changed_after = UtcDateTimeFilter(field_name="changed_at", lookup_expr="gte")

    class Meta:
        model = LabelChange
        fields = ["label_type", "owner", "video", "frame", "label_id"]
