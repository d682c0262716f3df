"""Read model of the export page: the formats the exchange app writes and the choices of its filters.

The export itself is the exchange API's (`/api/exports/`: streamed, or a job with a download link when
large); this page only offers what that API takes."""

from __future__ import annotations

from typing import Any

from accounts.models import MAX_VALIDATION_LEVEL, MIN_VALIDATION_LEVEL, User
from annotations.models import Contour, FrameScore, LabelSource, VideoFinding, VideoScore
from exchange.services import FORMATS

from .filters import lung_zone_counts
from .natural import natural_order

#: What each export format is, for people choosing one (the keys are exchange.services.FORMATS').
FORMAT_TITLES = {
    "csv": "CSV: one row per label (frame and video scores, findings, contours)",
    "jsonl": "JSON Lines: one label per line, the CSV's fields",
    "coco": "COCO: images with contours and frame scores (one JSON file)",
    "labelme": "LabelMe: one JSON per frame with its contours (ZIP)",
    "masks": "Frames and masks: PNG frames with a class-id mask per annotator (ZIP)",
    "manifest": "ml manifest: frame rows with their score, for ml.train (JSON Lines)",
}


def export_options(*, user: User) -> dict[str, Any]:
    """Formats, and the filter choices that have labels behind them: annotators who labelled something,
    BLUE zones with videos, validation levels, label sources. Sites and patients come from their own APIs."""
    annotator_ids: set[int] = set()
    for model in (FrameScore, VideoScore, VideoFinding, Contour):
        annotator_ids.update(model.objects.order_by().values_list("annotator_id", flat=True).distinct())
    annotators = User.objects.filter(pk__in=annotator_ids).order_by(*natural_order("username"))
    return {
        "formats": [{"value": name, "title": FORMAT_TITLES.get(name, name), "extension": spec.extension,
                     "label_types": list(spec.label_types)} for name, spec in FORMATS.items()],
        "annotators": [{"id": person.pk, "username": person.username, "role": person.role} for person in annotators],
        "lung_zones": lung_zone_counts(),
        "validation_levels": list(range(MIN_VALIDATION_LEVEL, MAX_VALIDATION_LEVEL + 1)),
        "sources": [{"value": value, "label": label} for value, label in LabelSource.choices],
    }
