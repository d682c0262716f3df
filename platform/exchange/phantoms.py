"""A phantom study: synthetic LUS videos (ml.phantom) imported with exact scores and contours.

Used by the demo and by tests of later features. The ground truth is labelled by the
`phantom-truth` user (level 4); optional noisy annotators give agreement statistics something to
measure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction

from accounts.models import Role, User
from accounts.services import user_ensure
from annotations.services import contours_import, frame_scores_import, video_score_import
from ml.data.video_io import write_video
from ml.geometry import mask_to_polygons
from ml.phantom import Geometry, generate_phantom_video
from studies.models import Probe, Video
from studies.services import exam_ensure, patient_upsert, site_ensure, video_ingest

PHANTOM_SITE = "Pleura phantom hospital"
TRUTH_USERNAME = "phantom-truth"
ZONES = ("R1", "R2", "R3", "L1", "L2", "L3")


@dataclass
class PhantomSummary:
    videos_created: int = 0
    frames: int = 0
    frame_scores: int = 0
    contours: int = 0


def noisy_annotator_scores(truth: np.ndarray, *, rng: np.random.Generator, flip: float) -> np.ndarray:
    """Truth with a fraction `flip` of frames moved one level up or down (clipped to 0–3)."""
    step = rng.choice([-1, 1], size=truth.shape) * (rng.random(truth.shape) < flip)
    return np.clip(truth + step, 0, 3)


def phantoms_generate(*, videos: int = 12, frames: int = 60, seed: int = 0, annotators: int = 2,
                      size: int = 256, progress: Callable[[int, int], None] | None = None) -> PhantomSummary:
    """Create `videos` phantom videos (6 BLUE zones per patient) with truth and noisy labels."""
    if videos < 1 or frames < 1:
        raise ValueError("videos and frames must be at least 1")
    site = site_ensure(name=PHANTOM_SITE)
    truth = user_ensure(username=TRUTH_USERNAME, role=Role.VALIDATOR, validation_level=4)
    raters: list[User] = [user_ensure(username=f"phantom-annotator-{i + 1}", role=Role.ANNOTATOR, validation_level=1)
                          for i in range(annotators)]
    summary = PhantomSummary()
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="pleura-phantoms-") as scratch:
        for number in range(videos):
            video_seed = seed * 100_003 + number
            geometry: Geometry = "convex" if number % 3 else "linear"
            phantom = generate_phantom_video(seed=video_seed, n_frames=frames, height=size, width=size,
                                             geometry=geometry)
            path = write_video(Path(scratch) / f"phantom_{video_seed}.avi", phantom)
            patient = patient_upsert(site=site, code=f"PH-{number // len(ZONES) + 1:03d}",
                                     covid_status="positive" if number % 2 else "suspected")
            with transaction.atomic():
                result = video_ingest(source=path, original_name=path.name, exam=exam_ensure(patient=patient),
                                      lung_zone=ZONES[number % len(ZONES)],
                                      probe=Probe.CONVEX if geometry == "convex" else Probe.LINEAR,
                                      scanner_model="Pleura phantom")
                if result.created:
                    _label(result.video, phantom, truth, raters, rng, summary)
            if progress:
                progress(number + 1, videos)
    return summary


def _label(video: Video, phantom: object, truth: User, raters: list[User], rng: np.random.Generator,
           summary: PhantomSummary) -> None:
    frame_ids = list(video.frames.order_by("index").values_list("id", flat=True))
    scores = np.asarray(phantom.scores)  # type: ignore[attr-defined]
    masks = phantom.masks  # type: ignore[attr-defined]
    summary.videos_created += 1
    summary.frames += len(frame_ids)
    summary.frame_scores += frame_scores_import(annotator=truth, scores=dict(zip(frame_ids, scores.tolist(),
                                                                                 strict=True)))
    video_score_import(annotator=truth, video_id=video.id, score=int(phantom.video_score))  # type: ignore[attr-defined]
    for rater in raters:
        noisy = noisy_annotator_scores(scores, rng=rng, flip=0.15)
        summary.frame_scores += frame_scores_import(annotator=rater, scores=dict(zip(frame_ids, noisy.tolist(),
                                                                                     strict=True)))
        video_score_import(annotator=rater, video_id=video.id, score=int(noisy.max()))
    polygons = [(frame_id, class_id, polygon.tolist())
                for frame_id, mask in zip(frame_ids, masks, strict=True)
                for class_id in np.unique(mask) if class_id
                for polygon in mask_to_polygons(mask, int(class_id))]
    summary.contours += contours_import(annotator=truth, contours=polygons)
