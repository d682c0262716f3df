"""Writes on labels. Bulk imports go through here so every label gets its author's level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import transaction

from accounts.models import User

from .models import Contour, FrameScore, LabelSource, SegmentationClass, VideoScore

BATCH = 2000


def _check_score(score: int) -> int:
    if not 0 <= int(score) <= 3:
        raise ValueError(f"score {score} is outside the 0–3 scale")
    return int(score)


@transaction.atomic
def frame_scores_import(*, annotator: User, scores: Mapping[int, int], source: str = LabelSource.HUMAN) -> int:
    """Set `annotator`'s score of each frame id (insert or overwrite their own row only)."""
    rows = [FrameScore(frame_id=frame_id, annotator=annotator, score=_check_score(score),
                       validation_level=annotator.validation_level, source=source)
            for frame_id, score in scores.items()]
    FrameScore.objects.bulk_create(rows, batch_size=BATCH, update_conflicts=True,
                                   unique_fields=["frame", "annotator"],
                                   update_fields=["score", "validation_level", "source", "updated_at"])
    return len(rows)


def video_score_set(*, annotator: User, video_id: int, score: int, source: str = LabelSource.HUMAN,
                    comment: str = "") -> VideoScore:
    row, _ = VideoScore.objects.update_or_create(
        video_id=video_id, annotator=annotator,
        defaults={"score": _check_score(score), "validation_level": annotator.validation_level,
                  "source": source, "comment": comment},
    )
    return row


@transaction.atomic
def contours_import(*, annotator: User, contours: Iterable[tuple[int, int, Sequence[Sequence[float]]]],
                    source: str = LabelSource.HUMAN) -> int:
    """Add polygons given as (frame id, segmentation class index, [[x, y], ...])."""
    classes = {c.index: c for c in SegmentationClass.objects.all()}
    rows = []
    for frame_id, class_index, vertices in contours:
        if class_index not in classes:
            raise ValueError(f"unknown segmentation class {class_index}")
        if len(vertices) < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {len(vertices)}")
        rows.append(Contour(frame_id=frame_id, annotator=annotator, segmentation_class=classes[class_index],
                            vertices=[[round(float(x), 2), round(float(y), 2)] for x, y in vertices],
                            validation_level=annotator.validation_level, source=source))
    Contour.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)
