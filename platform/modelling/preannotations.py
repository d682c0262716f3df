"""Model pre-annotation: the active segmentation model's masks of a video become editable polygons (proposals
of the annotator, origin model, with the model version) and the active frame scorer's scores pre-fill the
frame scores. Offered only where annotations.selectors.preannotations_visible_to allows (blind mode keeps
them from annotators); the polygons are stored by annotations.tracks.model_proposals_store."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from django.core.files.storage import default_storage

from accounts.models import User
from annotations.selectors import preannotations_visible_to
from annotations.tracks import model_proposals_store
from core.errors import ApplicationError, NotFound
from ml.tracks import masks_to_preannotations
from studies.models import Video

from .models import FramePrediction, ModelKind, SegmentationPrediction
from .selectors import active_version


class PreannotationsHidden(ApplicationError):
    """Pre-annotations are not offered to this person (site setting off, or blind mode for annotators)."""

    status = 403


def _mask(name: str) -> np.ndarray | None:
    with default_storage.open(name, "rb") as handle:
        return cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_UNCHANGED)


def preannotations_create(*, user: User, video: Video) -> dict[str, Any]:
    """Proposals from the active segmentation model's masks of `video` for `user`, and the active frame
    scorer's score per frame index (not stored: the viewer pre-fills, the annotator saves). Returns
    {"model_version", "proposals": count, "frame_model_version", "frame_scores": {index: score}}."""
    if not preannotations_visible_to(user):
        raise PreannotationsHidden("pre-annotations are not offered to you in this project (blind mode)")
    segmenter = active_version(ModelKind.SEGMENTATION)
    scorer = active_version(ModelKind.FRAME_SCORER)
    if segmenter is None and scorer is None:
        raise NotFound("no active segmentation model or frame scorer")
    count = 0
    if segmenter is not None:
        found: dict[int, list[tuple[int, list[list[float]]]]] = {}
        for index, name in (SegmentationPrediction.objects.filter(model_version=segmenter, frame__video=video)
                            .values_list("frame__index", "mask").iterator(chunk_size=500)):
            mask = _mask(name)
            if mask is None or mask.ndim != 2:
                continue
            found[index] = [(p.class_id, p.polygon.tolist()) for p in masks_to_preannotations(mask)]
        count = model_proposals_store(user=user, video=video, model_version_id=segmenter.pk, found=found)
    scores = {} if scorer is None else dict(
        FramePrediction.objects.filter(model_version=scorer, frame__video=video).values_list("frame__index", "score"))
    return {"model_version": segmenter.pk if segmenter else None, "proposals": count,
            "frame_model_version": scorer.pk if scorer else None, "frame_scores": scores}
