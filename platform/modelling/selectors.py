"""Reads for training and prediction: labelled frames as manifest rows, contour masks, active versions."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Q, QuerySet

from annotations.models import Contour, FrameScore, LabelSource, VideoFinding, VideoScore
from annotations.selectors import findings_consensus
from ml.agreement import at_least_agree, consensus, consensus_mask
from studies.models import Frame, Video

from .models import (
    FramePrediction,
    JobStatus,
    JobType,
    ModelActivation,
    ModelKind,
    ModelVersion,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from .selection import DataSelection


@dataclass(frozen=True)
class LabelledFrames:
    """Training rows (ml manifest form; `image` is the frame's storage name, a local file only where a worker
    needs it: modelling.scoring.manifest_rows) and what identifies the exact labels behind them."""

    rows: list[dict]
    label_ids: list[int]
    class_counts: dict[int, int]

    @property
    def snapshot(self) -> dict:
        digest, videos = _fingerprint(self.rows, self.label_ids)
        return {"label_count": len(self.label_ids), "label_ids_sha256": digest,
                "frames": len(self.rows), "class_counts": self.class_counts, "videos": videos}


def _fingerprint(rows: list[dict], label_ids: list[int]) -> tuple[str, list[str]]:
    """What identifies a training selection: the SHA-256 of its sorted label ids, and its videos."""
    digest = hashlib.sha256(",".join(map(str, sorted(label_ids))).encode()).hexdigest()
    return digest, sorted({row["video"] for row in rows}, key=int)


def _labels(model: type[FrameScore] | type[VideoScore] | type[VideoFinding] | type[Contour],
            selection: DataSelection) -> QuerySet:
    labels = model.objects.filter(source=LabelSource.HUMAN, validation_level__gte=selection.min_level)
    if model is Contour:
        labels = labels.filter(**{"is_proposal": False})  # proposals are no labels until accepted
    item = "video__exam__patient" if model in (VideoScore, VideoFinding) else "frame__video__exam__patient"
    if selection.annotators is not None:
        labels = labels.filter(annotator_id__in=selection.annotators)
    if selection.patients is not None:
        labels = labels.filter(**{f"{item}_id__in": selection.patients})
    if selection.sites is not None:
        labels = labels.filter(**{f"{item}__site_id__in": selection.sites})
    if selection.test_patients:
        labels = labels.exclude(**{f"{item}_id__in": selection.test_patients})
    return labels


def consensus_scores(triples: np.ndarray, selection: DataSelection, levels: dict[int, int]) -> tuple[
        np.ndarray, np.ndarray]:
    """(item, annotator, score) rows -> (item ids, consensus score) for items passing min_agree."""
    if len(triples) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    items, item_index = np.unique(triples[:, 0], return_inverse=True)
    raters, rater_index = np.unique(triples[:, 1], return_inverse=True)
    ratings = np.full((len(items), len(raters)), np.nan)
    ratings[item_index, rater_index] = triples[:, 2]
    rater_levels = np.array([levels[int(r)] for r in raters]) if selection.consensus == "most_expert" else None
    scores = consensus(ratings, selection.consensus, levels=rater_levels)
    keep = ~np.isnan(scores)
    if selection.min_agree > 1:
        keep &= at_least_agree(ratings, min(selection.min_agree, len(raters)))
        keep &= (~np.isnan(ratings)).sum(axis=1) >= selection.min_agree
    return items[keep], scores[keep].astype(np.int64)


def labelled_frames(selection: DataSelection) -> LabelledFrames:
    """Frames with a consensus label under `selection`, as rows {image, score, patient, video, frame_id}."""
    model = FrameScore if selection.label_kind == "frame" else VideoScore
    item_field = "frame_id" if model is FrameScore else "video_id"
    labels = list(_labels(model, selection).values_list("id", item_field, "annotator_id", "score",
                                                        "validation_level"))
    if not labels:
        return LabelledFrames(rows=[], label_ids=[], class_counts={})
    array = np.asarray(labels, dtype=np.int64)
    levels = {int(a): int(lv) for a, lv in zip(array[:, 2], array[:, 4], strict=True)}
    item_ids, scores = consensus_scores(array[:, 1:4], selection, levels)
    score_of = dict(zip(item_ids.tolist(), scores.tolist(), strict=True))
    frames = Frame.objects.filter(**({"id__in": item_ids.tolist()} if model is FrameScore
                                     else {"video_id__in": item_ids.tolist()}))
    rows: list[dict[str, Any]] = []
    for frame_id, video_id, index, image, patient_id in frames.order_by("video_id", "index").values_list(
            "id", "video_id", "index", "image", "video__exam__patient_id").iterator(chunk_size=5000):
        if index % selection.frame_step:
            continue
        score = score_of[frame_id if model is FrameScore else video_id]
        rows.append({"image": image, "score": int(score), "patient": str(patient_id),
                     "video": str(video_id), "frame": int(index), "frame_id": frame_id})
    kept_items = set(score_of)
    label_ids = [int(row[0]) for row in labels if row[1] in kept_items]
    counts = np.bincount([row["score"] for row in rows], minlength=4) if rows else np.zeros(4, int)
    return LabelledFrames(rows=rows, label_ids=label_ids, class_counts={i: int(c) for i, c in enumerate(counts)})


@dataclass(frozen=True)
class ContouredFrames:
    """Segmentation training rows: {image, mask (H, W) uint8 class ids, patient, video, frame, frame_id}."""

    rows: list[dict]
    label_ids: list[int]
    class_counts: dict[int, int]

    @property
    def snapshot(self) -> dict:
        digest, videos = _fingerprint(self.rows, self.label_ids)
        return {"contour_count": len(self.label_ids), "contour_ids_sha256": digest, "frames": len(self.rows),
                "frames_per_class": self.class_counts, "videos": videos}


def contoured_frames(selection: DataSelection) -> ContouredFrames:
    """Frames contoured by the selected annotators, each with one class-id mask at frame resolution.

    Each annotator's polygons are rasterised (``ml.geometry.rasterise``); a frame drawn by one
    annotator takes that mask, one drawn by several the consensus of the selection: the most expert
    annotator's mask for ``most_expert``, else the pixel-wise majority vote of ``ml.agreement`` (ties and,
    with ``min_agree`` > 1, pixels with fewer votes are background). Frames drawn by fewer than
    ``min_agree`` annotators are left out.
    """
    from ml.geometry import rasterise

    contours = _labels(Contour, selection).order_by("frame_id", "id").values_list(
        "id", "frame_id", "annotator_id", "validation_level", "segmentation_class__index", "vertices")
    drawn: dict[int, dict[int, dict[int, list]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    levels: dict[tuple[int, int], int] = {}
    ids: dict[int, list[int]] = defaultdict(list)
    for contour_id, frame_id, annotator, level, class_id, vertices in contours.iterator(chunk_size=5000):
        drawn[frame_id][annotator][class_id].append(vertices)
        levels[(frame_id, annotator)] = max(level, levels.get((frame_id, annotator), 0))
        ids[frame_id].append(contour_id)
    frames = Frame.objects.filter(id__in=[f for f, raters in drawn.items() if len(raters) >= selection.min_agree])
    rows, label_ids = [], []
    counts = np.zeros(5, dtype=np.int64)
    for frame_id, video_id, index, image, patient_id, height, width in frames.order_by("video_id", "index").values_list(
            "id", "video_id", "index", "image", "video__exam__patient_id", "video__height", "video__width"
    ).iterator(chunk_size=2000):
        if index % selection.frame_step:
            continue
        raters = sorted(drawn[frame_id])
        if len(raters) == 1:
            mask = rasterise(drawn[frame_id][raters[0]], height, width)
        elif selection.consensus == "most_expert":
            best = max(raters, key=lambda a: (levels[(frame_id, a)], -a))
            mask = rasterise(drawn[frame_id][best], height, width)
        else:
            stack = np.stack([rasterise(drawn[frame_id][a], height, width) for a in raters])
            mask = consensus_mask(stack, min_votes=selection.min_agree if selection.min_agree > 1 else None)
        counts[np.unique(mask)] += 1
        rows.append({"image": image, "mask": mask, "patient": str(patient_id),
                     "video": str(video_id), "frame": int(index), "frame_id": frame_id})
        label_ids += ids[frame_id]
    return ContouredFrames(rows=rows, label_ids=label_ids,
                           class_counts={i: int(c) for i, c in enumerate(counts) if i > 0})


def video_consensus_labels(selection: DataSelection) -> dict[int, int]:
    """video id -> consensus video score under `selection` (for the aggregator)."""
    labels = list(_labels(VideoScore, selection).values_list("video_id", "annotator_id", "score", "validation_level"))
    if not labels:
        return {}
    array = np.asarray(labels, dtype=np.int64)
    levels = {int(a): int(lv) for a, lv in zip(array[:, 1], array[:, 3], strict=True)}
    items, scores = consensus_scores(array[:, :3], selection, levels)
    return dict(zip(items.tolist(), scores.tolist(), strict=True))


def video_consensus_findings(selection: DataSelection) -> dict[int, dict[str, bool]]:
    """video id -> {finding code: present} under `selection`: per video and finding, the majority of the
    annotators at the highest validation level that labelled it (ties and unlabelled findings left out;
    the selection's patients, sites, annotators, minimum level and test patients apply, not its rule)."""
    return findings_consensus(_labels(VideoFinding, selection))


def active_version(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, is_active=True).first()


def model_activations_recent(limit: int = 200) -> QuerySet[ModelActivation]:
    """The latest switches of active versions, newest first, with who made them (one query)."""
    return ModelActivation.objects.select_related("activated_by")[:limit]


def aggregator_training_videos(selection: DataSelection) -> tuple[ModelVersion, dict[int, int]]:
    """Labelled videos the active frame scorer never trained on (the paper trains its aggregator so)."""
    scorer = active_version(ModelKind.FRAME_SCORER)
    if scorer is None:
        raise ValueError("the aggregator learns from frame predictions: activate a frame scorer first")
    seen = {int(v) for v in scorer.data_snapshot.get("videos", [])}
    return scorer, {v: s for v, s in video_consensus_labels(selection).items() if v not in seen}


def frames_of_videos(video_ids: list[int]) -> list[dict]:
    """Frame rows (no label) of videos, ordered, for prediction."""
    return [{"image": image, "video": str(video_id), "frame": int(index), "frame_id": frame_id,
             "patient": str(patient_id)}
            for frame_id, video_id, index, image, patient_id in Frame.objects.filter(video_id__in=video_ids)
            .order_by("video_id", "index").values_list("id", "video_id", "index", "image", "video__exam__patient_id")
            .iterator(chunk_size=5000)]


def videos_for_scope(*, video_ids: list[int] | None = None, patient_id: int | None = None) -> list[int]:
    videos = Video.objects.all()
    if video_ids is not None:
        videos = videos.filter(id__in=video_ids)
    if patient_id is not None:
        videos = videos.filter(exam__patient_id=patient_id)
    return list(videos.order_by("id").values_list("id", flat=True))


def job_is_cancelled(job_id: int) -> bool:
    """Whether someone cancelled the job (a running worker polls this to stop cooperatively)."""
    return TrainingJob.objects.filter(pk=job_id, status=JobStatus.CANCELLED).exists()


PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)


def version_has_predictions(version: ModelVersion) -> bool:
    """Whether `version` scored any video or frame (or drew any mask)."""
    return any(model.objects.filter(model_version=version).exists()
               for model in (VideoPrediction, FramePrediction, SegmentationPrediction))


def scoring_job_pending(version: ModelVersion) -> TrainingJob | None:
    """The queued or running scoring job of every video by `version` (or by every active model), if any."""
    every_video = Q(parameters__video_ids=None, parameters__patient_id=None)
    return (TrainingJob.objects.filter(every_video, job_type=JobType.SCORING, status__in=PENDING)
            .filter(Q(model_version=version) | Q(model_version__isnull=True, kind=""))
            .order_by("created_at", "id").first())


def jobs_recent(*, job_type: str | None = None, limit: int = 200) -> list[TrainingJob]:
    """The newest jobs (of one type, or all) for the job tables: one query, newest first."""
    jobs = TrainingJob.objects.order_by("-created_at", "-id")
    if job_type is not None:
        jobs = jobs.filter(job_type=job_type)
    return list(jobs[:limit])


def job_queue_positions(jobs: Sequence[TrainingJob]) -> dict[int, dict[str, Any]]:
    """Where each queued job of `jobs` stands: its queue (one per job type, one job at a time each), its
    place (1: next), the job it waits for (the one just ahead: running, or queued before it) and the
    running ones. One query whatever the number of jobs; jobs not queued get no entry."""
    if not any(job.status == JobStatus.QUEUED for job in jobs):
        return {}
    running: dict[str, list[int]] = defaultdict(list)
    queued: dict[str, list[int]] = defaultdict(list)
    for job_id, job_type, status in (TrainingJob.objects.filter(status__in=PENDING).order_by("created_at", "id")
                                     .values_list("id", "job_type", "status")):
        (running if status == JobStatus.RUNNING else queued)[job_type].append(job_id)
    positions = {}
    for job_type, ids in queued.items():
        for place, job_id in enumerate(ids):
            ahead = ids[place - 1] if place else (running[job_type][0] if running[job_type] else None)
            positions[job_id] = {"queue": job_type, "position": place + 1, "waiting_for": ahead,
                                 "running": running[job_type]}
    return {job.pk: positions[job.pk] for job in jobs if job.pk in positions}


def videos_with_frame_predictions(version: ModelVersion, video_ids: Sequence[int]) -> set[int]:
    """Those of `video_ids` that `version` already scored."""
    return set(FramePrediction.objects.filter(model_version=version, frame__video_id__in=list(video_ids))
               .values_list("frame__video_id", flat=True).distinct())


def frame_prediction_rows(version: ModelVersion, video_ids: Sequence[int]) -> list[dict]:
    """`version`'s frame predictions of videos as {video, frame, probs} rows (the aggregator's input)."""
    return [{"video": str(v), "frame": i, "probs": p} for v, i, p in FramePrediction.objects.filter(
        model_version=version, frame__video_id__in=list(video_ids)).values_list(
        "frame__video_id", "frame__index", "probabilities").iterator(chunk_size=5000)]


def video_patients(video_ids: Sequence[int]) -> dict[int, int]:
    """{video id: patient id} (patient-level splits need them)."""
    return dict(Video.objects.filter(id__in=list(video_ids)).values_list("id", "exam__patient_id"))


def video_hashes(video_ids: Sequence[int]) -> dict[int, str]:
    """{video id: SHA-256 of its source file} (the content id of cached frame embeddings)."""
    return dict(Video.objects.filter(id__in=list(video_ids)).values_list("id", "sha256"))


#: Below this cross-validated quadratic kappa a model's scores are flagged to clinicians as a rough guide.
LOW_KAPPA = 0.4


def model_version_quality(version: ModelVersion) -> dict[str, Any]:
    """What a clinician should know next to a model's score: its cross-validated figures, calibration,
    what it learned from, and plain-language warnings (no validation set, low agreement with experts)."""
    metrics, snapshot = version.metrics or {}, version.data_snapshot or {}
    cv = metrics.get("cv") or {}
    validation = snapshot.get("validation_patients") or []
    kappa = cv.get("quadratic_kappa_mean")
    warnings = []
    if not validation:
        warnings.append("trained without validation patients: its figures are unchecked")
    if kappa is None:
        warnings.append("no cross-validated figures: how well it scores unseen patients is unknown")
    elif kappa < LOW_KAPPA:
        warnings.append(f"cross-validated agreement with the experts is low (quadratic kappa {kappa:.2f}): "
                        f"treat its scores as a rough guide")
    return {
        "cv_folds": cv.get("folds"), "cv_f1_weighted": cv.get("f1_weighted_mean"), "cv_quadratic_kappa": kappa,
        "cv_ece": cv.get("ece_mean"), "validation_ece": metrics.get("val_ece"),
        "temperature": metrics.get("temperature"), "training_videos": len(snapshot.get("videos") or []) or None,
        "validation_patients": len(validation), "warnings": warnings,
    }
