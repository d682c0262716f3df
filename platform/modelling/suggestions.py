"""What to label next (issue 17): the frames of the videos a user may label, ordered by ml.active.

Computed on request from the active frame-level model's stored per-frame probabilities (FramePrediction,
written by scoring) and the frame scores so far, so the list follows every new label and every newly
activated version without a cache to invalidate. Signals per frame: the model's entropy and margin,
annotator disagreement, the model's expected ordinal distance to the consensus (the median label), and
``mc_variance``: the active segmentation ensemble's MC-dropout uncertainty of the frame (its stored mean
pixel standard deviation, SegmentationPrediction.uncertainty_mean) ranked among the candidates that have
one and scaled to [0, 1] by ``ml.active.rank_scaled`` (the raw means are small and model-dependent, so their
order is what counts); null, and left out of the combined priority, for a frame the ensemble has not
segmented. The top of the list is spread by clustering the frames' cached embeddings (an embedding model
whose embedding files are all in the cache), else across videos (at most ``PER_VIDEO`` frames of one video
there). Frames the asking annotator has already scored are left out. Queries are bounded: one per table,
whatever the size, and at most ``MAX_CANDIDATES`` predictions of each kind are read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from accounts.models import User
from annotations.models import FrameScore
from ml.active import (
    annotator_disagreement,
    combine,
    entropy,
    margin,
    model_consensus_disagreement,
    per_video,
    rank,
    rank_scaled,
)
from ml.scores import SCORES
from studies.selectors import is_annotator, videos_visible_to

from .models import FramePrediction, ModelKind, ModelVersion, SegmentationPrediction
from .scoring import embedding_cache
from .selectors import video_hashes

#: frame-level kinds whose stored per-frame probabilities rank frames, preferred first
SUGGESTION_KINDS = (ModelKind.EMBEDDING, ModelKind.FRAME_SCORER, ModelKind.SEQUENCE)
MAX_CANDIDATES = 20000
MAX_SUGGESTIONS = 200
PER_VIDEO = 2
#: above this many candidate videos the embedding files are not read (the per-video spread is used)
MAX_EMBEDDING_VIDEOS = 300


def cached_frame_embeddings(version: ModelVersion, rows: list[tuple[int, int, int, Any]]) -> np.ndarray | None:
    """``(N, D)`` the cached embedding of each candidate ``(frame, video, index, probs)``, or None unless the
    version is an embedding model and every one of them is in the cache (read only, never computed here)."""
    video_ids = sorted({r[1] for r in rows})
    if version.kind != ModelKind.EMBEDDING or len(video_ids) > MAX_EMBEDDING_VIDEOS:
        return None
    from ml.training import EmbeddingTrainConfig

    try:
        config = EmbeddingTrainConfig.from_dict(version.config)
        spec = config.embedding_spec()
    except (ValueError, TypeError, KeyError):
        return None
    cache = embedding_cache()
    by_frame: dict[tuple[int, int], np.ndarray] = {}
    for video_id, sha in video_hashes(video_ids).items():
        path = cache.path(spec, sha, config.frame_step)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                frames, vectors = data["frames"], data["embeddings"]
        except (OSError, ValueError, KeyError, EOFError):
            return None
        by_frame.update({(video_id, int(index)): vector for index, vector in zip(frames, vectors, strict=False)})
    found = [by_frame.get((r[1], r[2])) for r in rows]
    if any(vector is None for vector in found):
        return None
    return np.stack(found)  # type: ignore[arg-type]


def suggestion_version() -> ModelVersion | None:
    """The active version whose frame predictions rank frames (one query)."""
    versions = {v.kind: v for v in ModelVersion.objects.filter(kind__in=SUGGESTION_KINDS, is_active=True)}
    return next((versions[k] for k in SUGGESTION_KINDS if k in versions), None)


def segmentation_uncertainty(frame_ids: list[int]) -> dict[int, float]:
    """{frame id: mean MC-dropout standard deviation} from the active segmentation version, for the frames
    it segmented with a stored mean (one query, at most one row per frame and active version)."""
    rows = (SegmentationPrediction.objects
            .filter(model_version__kind=ModelKind.SEGMENTATION, model_version__is_active=True,
                    frame_id__in=frame_ids, uncertainty_mean__isnull=False)
            .order_by("model_version_id").values_list("frame_id", "uncertainty_mean"))
    # ordered so that, were two versions ever active, the newest one's value wins; the None test only narrows
    # the type (the query leaves nulls out)
    return {frame_id: float(mean) for frame_id, mean in rows if mean is not None}


def suggestions_for(user: User, *, limit: int = 20) -> dict[str, Any]:
    """``{"model_version", "diversity", "items": [{frame, video, frame_index, priority, signals}], "videos":
    [{video, priority}]}``, most worth labelling first (a video by the mean of its 3 best frames); no items
    without an active frame-level model that scored the user's videos."""
    limit = max(1, min(int(limit), MAX_SUGGESTIONS))
    version = suggestion_version()
    if version is None:
        return {"model_version": None, "items": [], "reason": "no active model with frame predictions"}
    videos = videos_visible_to(user).values("id")
    rows = list(FramePrediction.objects.filter(model_version=version, frame__video_id__in=videos)
                .order_by("frame_id").values_list("frame_id", "frame__video_id", "frame__index", "probabilities")
                [:MAX_CANDIDATES])
    if not rows:
        return {"model_version": version.pk, "items": [], "reason": "the active model has not scored these videos"}
    frame_ids = [r[0] for r in rows]
    labels: dict[int, list[int]] = defaultdict(list)
    mine: set[int] = set()
    for frame_id, annotator_id, score in FrameScore.objects.filter(frame_id__in=frame_ids).values_list(
            "frame_id", "annotator_id", "score"):
        labels[frame_id].append(score)
        if annotator_id == user.pk:
            mine.add(frame_id)
    if is_annotator(user):
        rows = [r for r in rows if r[0] not in mine]
        if not rows:
            return {"model_version": version.pk, "items": [], "reason": "every scored frame is labelled by you"}
    uncertainty = segmentation_uncertainty([r[0] for r in rows])
    probs = np.array([r[3] for r in rows], dtype=np.float64)
    width = max([len(labels.get(r[0], ())) for r in rows] + [1])
    matrix = np.full((len(rows), width), np.nan)
    consensus = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        given = labels.get(row[0], [])
        matrix[i, :len(given)] = given
        if given:
            consensus[i] = round(float(np.median(given)))
    signals = {"entropy": entropy(probs), "margin": margin(probs),
               "annotator_disagreement": annotator_disagreement(matrix, len(SCORES)),
               "model_consensus": np.where(np.isnan(consensus), np.nan,
                                           model_consensus_disagreement(probs, consensus)),
               "mc_variance": rank_scaled([uncertainty.get(r[0], np.nan) for r in rows])}
    priority = combine(signals)
    embeddings = cached_frame_embeddings(version, rows)
    order = rank(priority, embeddings=embeddings, groups=[r[1] for r in rows], k=limit,
                 max_per_group=None if embeddings is not None else PER_VIDEO)[:limit]
    items = [{"frame": rows[i][0], "video": rows[i][1], "frame_index": rows[i][2],
              "priority": round(float(priority[i]), 4), "labels": len(labels.get(rows[i][0], ())),
              "signals": {k: (None if np.isnan(v[i]) else round(float(v[i]), 4)) for k, v in signals.items()}}
             for i in order]
    rolled = per_video(priority, [r[1] for r in rows])  # a video's priority: the mean of its 3 best frames
    videos_ranked = [{"video": video, "priority": round(value, 4)}
                     for video, value in sorted(rolled.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    return {"model_version": version.pk, "diversity": "embeddings" if embeddings is not None else "videos",
            "items": items, "videos": videos_ranked}
