"""Label rows for exports: role-filtered, filtered like the list endpoints, streamed from the database.

Each label kind is one query with its joins (no N+1), read in chunks with `.iterator()` so memory
stays flat however many labels are exported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from django.db.models import QuerySet

from accounts.models import User
from annotations.filters import ContourFilter, FrameScoreFilter, VideoFindingFilter, VideoScoreFilter
from annotations.models import Contour, FrameScore, VideoFinding, VideoScore
from annotations.selectors import LabelModel, findings_consensus, labels_visible_to
from core.media_cache import local_path
from studies.selectors import frames_visible_to

from .formats import FrameRef, LabelRow

LABEL_TYPES = ("frame_score", "video_score", "video_finding", "contour")
CHUNK = 5000


def _video_fields(prefix: str) -> dict[str, str]:
    return {
        "site": f"{prefix}__exam__patient__site__name", "patient": f"{prefix}__exam__patient__code",
        "covid_status": f"{prefix}__exam__patient__covid_status", "exam_id": f"{prefix}__exam_id",
        "video_id": f"{prefix}_id" if prefix == "video" else f"{prefix}__id", "video_name": f"{prefix}__original_name",
        "lung_zone": f"{prefix}__lung_zone", "probe": f"{prefix}__probe", "width": f"{prefix}__width",
        "height": f"{prefix}__height",
    }


COMMON = {"label_id": "id", "annotator": "annotator__username", "annotator_id": "annotator_id",
          "validation_level": "validation_level", "source": "source", "version": "version",
          "created_at": "created_at", "updated_at": "updated_at"}
FIELDS = {
    "frame_score": {**COMMON, **_video_fields("frame__video"), "frame_id": "frame_id", "frame_index": "frame__index",
                    "score": "score"},
    "video_score": {**COMMON, **_video_fields("video"), "score": "score", "comment": "comment"},
    "video_finding": {**COMMON, **_video_fields("video"), "finding": "finding__code", "present": "present"},
    "contour": {**COMMON, **_video_fields("frame__video"), "frame_id": "frame_id", "frame_index": "frame__index",
                "segmentation_class": "segmentation_class__index", "vertices": "vertices",
                # beyond LabelRow (tabular exports keep their columns): COCO and LabelMe write them
                "origin": "origin", "is_keyframe": "is_keyframe"},
}
MODELS: dict[str, tuple[LabelModel, Any]] = {
    "frame_score": (FrameScore, FrameScoreFilter), "video_score": (VideoScore, VideoScoreFilter),
    "video_finding": (VideoFinding, VideoFindingFilter), "contour": (Contour, ContourFilter)}
EMPTY = {"frame_id": None, "frame_index": None, "score": None, "finding": None, "present": None, "comment": None,
         "segmentation_class": None, "vertices": None}
FRAME_LABELS = ("frame_score", "contour")


def filtered_labels(user: User, label_type: str, params: Mapping[str, Any]) -> QuerySet:
    """The labels of one kind `user` may see, filtered like the list endpoint (bad filters raise)."""
    model, filterset_class = MODELS[label_type]
    filterset = filterset_class(data=params, queryset=labels_visible_to(user, model))
    if not filterset.is_valid():
        raise ValueError({key: [str(e) for e in errors] for key, errors in filterset.errors.items()})
    return filterset.qs


def label_rows(user: User, params: Mapping[str, Any], label_types: tuple[str, ...] = LABEL_TYPES, *,
               by_frame: bool = False) -> Iterator[LabelRow]:
    """One dict per label (the export row): frame scores, video scores, video findings, then contours, by
    id (or by frame then id, for the per-frame formats; video findings by video then id)."""
    for label_type in label_types:
        fields = FIELDS[label_type]
        names, paths = list(fields), list(fields.values())
        order: tuple[str, ...] = ("id",)
        if by_frame:
            order = ("frame_id", "id") if label_type in FRAME_LABELS else ("video_id", "id")
        rows = filtered_labels(user, label_type, params).order_by(*order).values_list(*paths)
        for values in rows.iterator(chunk_size=CHUNK):
            row = {**EMPTY, **dict(zip(names, values, strict=True))}
            row["label_type"] = label_type
            row["created_at"] = row["created_at"].isoformat()
            row["updated_at"] = row["updated_at"].isoformat()
            yield cast(LabelRow, row)  # built from FIELDS (every LabelRow key) and EMPTY


def frame_refs(user: User, frame_ids: list[int]) -> Iterator[FrameRef]:
    """Frames (for COCO/LabelMe/ZIP exports) with their local image path, ordered by id."""
    rows = frames_visible_to(user).filter(id__in=frame_ids).order_by("id").values_list(
        "id", "video_id", "index", "video__width", "video__height", "video__exam__patient__code", "image")
    for frame_id, video_id, index, width, height, patient, image in rows.iterator(chunk_size=CHUNK):
        yield {"frame_id": frame_id, "video_id": video_id, "frame_index": index, "width": width, "height": height,
               "patient": patient, "image_path": str(local_path(image)),
               "image_name": f"frames/{video_id}/{index:06d}.png"}


def labelled_frame_ids(user: User, params: Mapping[str, Any], label_types: tuple[str, ...]) -> list[int]:
    """Sorted ids of the frames carrying the selected frame-level labels."""
    ids: set[int] = set()
    for label_type in label_types:
        ids.update(filtered_labels(user, label_type, params).values_list("frame_id", flat=True).distinct())
    return sorted(ids)


def consensus_findings(user: User, params: Mapping[str, Any]) -> dict[int, dict[str, bool]]:
    """video id -> {finding code: present}: the consensus (annotations.selectors.findings_consensus) of
    the findings `user` may see under the export's filters."""
    return findings_consensus(filtered_labels(user, "video_finding", params))


def label_count(user: User, params: Mapping[str, Any], label_types: tuple[str, ...]) -> int:
    return sum(filtered_labels(user, label_type, params).count() for label_type in label_types)
