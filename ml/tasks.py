"""Celery tasks that train and run models and write results back through platform services.

The only module of `ml` that touches Django: the pure core (models, losses, training loops) stays
importable without it. Tasks run on the `gpu` queue (`celery -A pleura worker -Q gpu -c 1`); without a
GPU the same worker trains on the CPU. Training checkpoints live in media storage under
`jobs/<id>/`, so a job re-delivered after its worker was killed resumes from its last epoch.
"""

from __future__ import annotations

import logging
import math
import socket
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from celery import shared_task
from django.conf import settings

from modelling.models import (
    FramePrediction,
    JobStatus,
    ModelKind,
    ModelVersion,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from modelling.selection import DataSelection
from modelling.selectors import (
    active_version,
    aggregator_training_videos,
    contoured_frames,
    frames_of_videos,
    labelled_frames,
    video_consensus_labels,
    videos_for_scope,
)
from modelling.services import (
    PREDICTING_KINDS,
    model_version_activate,
    model_version_create,
    predictions_replace,
    segmentation_files_save,
    segmentations_replace,
    training_job_finish,
    training_job_progress,
    training_job_start,
)
from modelling.weights import load_version

logger = logging.getLogger(__name__)
GPU_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["gpu"]
PROGRESS_INTERVAL_S = 0.5
CANCEL_POLL_S = 1.0
PREDICT_CHUNK_VIDEOS = 16
SEGMENT_CHUNK_VIDEOS = 2  # masks of a chunk are written in one transaction; MC dropout makes chunks slow
MAX_ATTEMPTS = 3


def enqueue_training(job_id: int) -> None:
    result = train_model.apply_async(args=[job_id], queue="gpu")
    TrainingJob.objects.filter(pk=job_id).update(task_id=result.id)


def enqueue_prediction(*, video_ids: Sequence[int] | None = None, patient_id: int | None = None,
                       kinds: Sequence[str] | None = None) -> str:
    """Queue scoring with the active models (of `kinds` only, when given)."""
    kwargs: dict[str, Any] = {"video_ids": list(video_ids) if video_ids is not None else None, "patient_id": patient_id}
    if kinds is not None:
        kwargs["kinds"] = [str(k) for k in kinds]
    return predict_videos.apply_async(kwargs=kwargs, queue="gpu").id


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _json_safe(value: Any) -> Any:
    """Metrics as strict JSON: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JobReporter:
    """Progress callback and cooperative cancel flag for one job, throttled to spare the database."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job
        self.state: dict[str, Any] = dict(job.progress or {})
        self.state.setdefault("history", [])
        self.cancelled = False
        self._last_write = 0.0
        self._last_poll = 0.0

    def __call__(self, progress: Any) -> None:
        self.state.update(phase=progress.phase, epoch=progress.epoch, epochs=progress.epochs,
                          step=progress.step, steps=progress.steps, loss=_json_safe(progress.loss))
        line = ""
        if progress.phase == "epoch" and progress.metrics is not None:
            record = _json_safe(dict(progress.metrics))
            self.state["history"] = [r for r in self.state["history"] if r.get("epoch") != progress.epoch] + [record]
            line = f"epoch {progress.epoch}/{progress.epochs}: " + ", ".join(
                f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float))
        now = time.monotonic()
        if line or progress.phase != "train" or now - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = now
            if not training_job_progress(job=self.job, progress=_json_safe(self.state), log_line=line):
                self.cancelled = True

    def note(self, line: str) -> None:
        training_job_progress(job=self.job, progress=_json_safe(self.state), log_line=line)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self._last_poll >= CANCEL_POLL_S:
            self._last_poll = now
            self.cancelled = TrainingJob.objects.filter(pk=self.job.pk, status=JobStatus.CANCELLED).exists()
        return self.cancelled


def _job_dir(job: TrainingJob) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "jobs" / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _manifest_rows(rows: Sequence[dict]) -> list:
    from ml.data import ManifestRow

    return [ManifestRow(patient=r["patient"], video=r["video"], score=r.get("score"), image=Path(r["image"]),
                        extra={"frame_id": r["frame_id"], "index": r["frame"]}) for r in rows]


def _split_patients(rows: Sequence[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    from ml.data.splits import patient_train_test_split

    patients = sorted({r["patient"] for r in rows})
    if fraction <= 0 or len(patients) < 3:
        return list(rows), []
    train_patients, _ = patient_train_test_split(patients, test_fraction=fraction, seed=seed)
    keep = set(train_patients)
    return [r for r in rows if r["patient"] in keep], [r for r in rows if r["patient"] not in keep]


def _train_frame_scorer(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.train import FrameTrainConfig, train_frame_scorer

    config = FrameTrainConfig.from_dict({**job.parameters, "device": _device()})
    selection = DataSelection.from_dict(job.data_selection)
    data = labelled_frames(selection)
    train_rows, val_rows = _split_patients(data.rows, selection.validation_fraction, config.seed)
    folder = _job_dir(job)
    resume = _note_resume(reporter, job, folder / "checkpoint.pt")
    reporter.note(f"{len(train_rows)} training frames, {len(val_rows)} validation frames on {config.device}")
    result = train_frame_scorer(config, _manifest_rows(train_rows), val_rows=_manifest_rows(val_rows) or None,
                                out_dir=folder, resume=resume, progress_callback=reporter,
                                should_stop=reporter.should_stop)
    if result.cancelled or reporter.cancelled or result.checkpoint is None:
        return None
    return _record_version(ModelKind.FRAME_SCORER, config.model, result.checkpoint, config=config.to_dict(),
                           metrics=result.metrics, snapshot=data.snapshot, selection=selection, val_rows=val_rows)


def _record_version(kind: str, name: str, checkpoint: str | Path, *, config: dict, metrics: dict, snapshot: dict,
                    selection: DataSelection, val_rows: Sequence[dict]) -> ModelVersion:
    """A trained checkpoint as a new version of `kind`, with what it learned from: the data snapshot, the
    selection and the validation patients; its parent is the version active until now."""
    snapshot = {**snapshot, "selection": selection.to_dict(),
                "validation_patients": sorted({r["patient"] for r in val_rows})}
    return model_version_create(kind=kind, name=name, weights=Path(checkpoint), config=config,
                                metrics=_json_safe(metrics), data_snapshot=snapshot, parent=active_version(kind))


def _note_resume(reporter: JobReporter, job: TrainingJob, checkpoint: Path) -> Path | None:
    """The checkpoint to resume from (None for a fresh start), logged."""
    if not checkpoint.is_file():
        return None
    from ml.checkpoint import load_checkpoint

    epoch = int(load_checkpoint(checkpoint)["epoch"])
    reporter.state["resumed_from_epoch"] = epoch
    reporter.note(f"attempt {job.attempts}: resuming from the checkpoint of epoch {epoch}")
    return checkpoint


def _train_segmentation(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.data import SegmentationSample
    from ml.train_segmentation import SegTrainConfig, train_segmentation

    config = SegTrainConfig.from_dict({**job.parameters, "device": _device()})
    selection = DataSelection.from_dict(job.data_selection)
    data = contoured_frames(selection)
    train_rows, val_rows = _split_patients(data.rows, selection.validation_fraction, config.seed)
    folder = _job_dir(job)
    if (folder / "members").is_dir():
        reporter.note(f"attempt {job.attempts}: resuming from the members' checkpoints")

    def samples(rows: Sequence[dict]) -> list[SegmentationSample]:
        return [SegmentationSample(image=Path(r["image"]), mask=r["mask"], patient=r["patient"], video=r["video"],
                                   frame=r["frame"], extra={"frame_id": r["frame_id"]}) for r in rows]

    reporter.note(f"{len(train_rows)} training frames, {len(val_rows)} validation frames with masks; members "
                  f"{', '.join(config.models)} on {config.device}")
    result = train_segmentation(config, samples(train_rows), val_samples=samples(val_rows) or None, out_dir=folder,
                                progress_callback=reporter, should_stop=reporter.should_stop)
    if result.cancelled or reporter.cancelled or result.checkpoint is None:
        return None
    return _record_version(ModelKind.SEGMENTATION, "seg_ensemble:" + "+".join(config.models), result.checkpoint,
                           config=config.to_dict(), metrics=result.metrics, snapshot=data.snapshot,
                           selection=selection, val_rows=val_rows)


def _train_cnn_lstm(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.train_video import VideoTrainConfig, train_video_model

    config = VideoTrainConfig.from_dict({**job.parameters, "device": _device()})
    selection = DataSelection.from_dict(job.data_selection)
    video_labels: dict[str, int] | None = None
    if config.per_frame:
        data = labelled_frames(selection)
        rows, snapshot = data.rows, data.snapshot
    else:
        labels = video_consensus_labels(selection)
        rows = [r for r in frames_of_videos(sorted(labels)) if r["frame"] % selection.frame_step == 0]
        video_labels = {str(v): s for v, s in labels.items()}
        snapshot = {"videos": sorted(labels), "video_labels": len(labels),
                    "class_counts": {s: list(labels.values()).count(s) for s in sorted(set(labels.values()))}}
    train_rows, val_rows = _split_patients(rows, selection.validation_fraction, config.seed)
    folder = _job_dir(job)
    resume = _note_resume(reporter, job, folder / "checkpoint.pt")
    reporter.note(f"{len(train_rows)} training frames, {len(val_rows)} validation frames ({config.model}, windows of "
                  f"{config.window}) on {config.device}")
    result = train_video_model(config, _manifest_rows(train_rows), video_labels=video_labels,
                               val_rows=_manifest_rows(val_rows) or None, val_video_labels=video_labels,
                               out_dir=folder, resume=resume, progress_callback=reporter,
                               should_stop=reporter.should_stop)
    if result.cancelled or reporter.cancelled or result.checkpoint is None:
        return None
    return _record_version(ModelKind.CNN_LSTM, config.model, result.checkpoint, config=config.to_dict(),
                           metrics=result.metrics, snapshot=snapshot, selection=selection, val_rows=val_rows)


def _train_aggregator(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.train import AggregatorTrainConfig, train_aggregator

    config = AggregatorTrainConfig.from_dict(job.parameters)
    scorer, labels = aggregator_training_videos(DataSelection.from_dict(job.data_selection))
    if not labels:
        raise ValueError("every labelled video was used to train the active frame scorer; the aggregator needs "
                         "videos it never saw")
    _predict(scorer, sorted(labels), reporter=reporter, missing_only=True)
    predictions = [{"video": str(v), "frame": i, "probs": p} for v, i, p in FramePrediction.objects.filter(
        model_version=scorer, frame__video_id__in=list(labels)).values_list(
        "frame__video_id", "frame__index", "probabilities").iterator(chunk_size=5000)]
    reporter.note(f"aggregator on {len(labels)} videos ({len(predictions)} frame predictions) of frame scorer "
                  f"v{scorer.pk}")
    result = train_aggregator(config, predictions, {str(v): s for v, s in labels.items()}, out_dir=_job_dir(job),
                              progress_callback=reporter, should_stop=reporter.should_stop)
    if result.cancelled or reporter.cancelled or result.path is None:
        return None
    history = _json_safe(result.history)
    return model_version_create(
        kind=ModelKind.AGGREGATOR, name=f"uninorm_{config.tnorm}_{config.off_diagonal}", weights=Path(result.path),
        config=config.to_dict(), metrics={"final_loss": (history.get("loss") or [None])[-1]},
        data_snapshot={"videos": sorted(labels), "frame_scorer": scorer.pk, "video_labels": len(labels)},
        parent=active_version(ModelKind.AGGREGATOR))


@shared_task(bind=True, name="ml.train_model", acks_late=True, reject_on_worker_lost=True,
             time_limit=GPU_TIME_LIMIT)
def train_model(self: Any, job_id: int) -> str:
    """Train the job's model, record a ModelVersion, activate it unless told not to, then score videos."""
    job = training_job_start(job_id=job_id, task_id=self.request.id or "", worker_host=socket.gethostname(),
                             device=_device())
    if job is None:
        return "skipped"
    if job.attempts > MAX_ATTEMPTS:
        training_job_finish(job=job, status=JobStatus.FAILED, error=f"gave up after {MAX_ATTEMPTS} attempts")
        return "failed"
    reporter = JobReporter(job)
    try:
        train = {ModelKind.FRAME_SCORER: _train_frame_scorer, ModelKind.AGGREGATOR: _train_aggregator,
                 ModelKind.SEGMENTATION: _train_segmentation, ModelKind.CNN_LSTM: _train_cnn_lstm}[ModelKind(job.kind)]
        version = train(job, reporter)
        if version is None:
            training_job_finish(job=job, status=JobStatus.CANCELLED)
            return "cancelled"
        if job.parameters.get("activate", True) is not False:
            model_version_activate(version=version, by=job.created_by)
            reporter.note(f"model version {version.pk} activated")
            # the aggregator's video scores come with the frame scorer's predictions
            scored = ModelKind.FRAME_SCORER if job.kind == ModelKind.AGGREGATOR else job.kind
            enqueue_prediction(video_ids=None, kinds=[scored])
        training_job_finish(job=job, status=JobStatus.SUCCEEDED, model_version=version)
        return "succeeded"
    except Exception as error:
        logger.exception("training job %s failed", job_id)
        training_job_finish(job=job, status=JobStatus.FAILED,
                            error=f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        return "failed"


def _predict(scorer: ModelVersion, video_ids: Sequence[int], *, reporter: JobReporter | None = None,
             missing_only: bool = False) -> int:
    """Score frames of videos with `scorer` (and the active aggregator) and replace their predictions."""
    from ml.predict import predict_frames, predict_videos

    if missing_only:
        done = set(FramePrediction.objects.filter(model_version=scorer, frame__video_id__in=video_ids)
                   .values_list("frame__video_id", flat=True).distinct())
        video_ids = [v for v in video_ids if v not in done]
    if not video_ids:
        return 0
    model, config = load_version(scorer, device=_device())
    aggregator_version = active_version(ModelKind.AGGREGATOR)
    aggregator = load_version(aggregator_version)[0] if aggregator_version is not None else None
    written = 0
    for start in range(0, len(video_ids), PREDICT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + PREDICT_CHUNK_VIDEOS])
        rows = frames_of_videos(chunk)
        predictions = predict_frames(model, _manifest_rows(rows), size=tuple(config["size"]), batch_size=64)
        frame_rows = [FramePrediction(frame_id=row["frame_id"], model_version=scorer, probabilities=p["probs"],
                                      score=p["pred"], crop_box_1=p["box1"], crop_box_2=p["box2"])
                      for row, p in zip(rows, predictions, strict=True)]
        per_video = predict_videos(predictions, aggregator=aggregator)
        mean_probs = _mean_probs_by_video(predictions)
        video_rows = [VideoPrediction(video_id=int(v["video"]), model_version=scorer,
                                      probabilities=mean_probs[v["video"]], score=v["argmax_mean"])
                      for v in per_video]
        predictions_replace(model_version=scorer, video_ids=chunk, frame_predictions=frame_rows,
                            video_predictions=video_rows)
        if aggregator_version is not None:
            predictions_replace(model_version=aggregator_version, video_ids=chunk, video_predictions=[
                VideoPrediction(video_id=int(v["video"]), model_version=aggregator_version, probabilities=v["probs"],
                                score=v["pred"]) for v in per_video])
        written += len(frame_rows)
        if reporter is not None:
            reporter.state["predicted_videos"] = start + len(chunk)
    return written


def _mean_probs_by_video(predictions: Sequence[dict]) -> dict[str, list[float]]:
    """Mean frame distribution per video (the frame scorer's own video prediction, argmax_mean)."""
    videos = np.array([p["video"] for p in predictions])
    probs = np.array([p["probs"] for p in predictions], dtype=np.float64)
    names, index = np.unique(videos, return_inverse=True)
    sums = np.zeros((len(names), probs.shape[1]))
    np.add.at(sums, index, probs)
    means = sums / np.bincount(index)[:, None]
    return {str(name): [round(float(x), 6) for x in row] for name, row in zip(names, means, strict=True)}


def _segment(version: ModelVersion, video_ids: Sequence[int]) -> int:
    """Masks and MC-dropout uncertainty images of the frames of videos (every `predict_frame_step`-th frame)
    with a segmentation ensemble; replaces the version's earlier ones."""
    import cv2

    from ml.train_segmentation import segment_images, uncertainty_to_uint8

    model, config = load_version(version, device=_device())
    step = int(config.get("predict_frame_step", 1))
    written = 0
    for start in range(0, len(video_ids), SEGMENT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + SEGMENT_CHUNK_VIDEOS])
        rows = [r for r in frames_of_videos(chunk) if r["frame"] % step == 0]
        items: list[SegmentationPrediction] = []
        try:
            outputs = segment_images(model, [Path(r["image"]) for r in rows],  # type: ignore[arg-type]
                                     size=tuple(config["size"]), mc_samples=int(config.get("mc_samples", 40)))
            for row, (mask, std) in zip(rows, outputs, strict=True):
                mask_png = cv2.imencode(".png", mask)[1].tobytes()
                std_png = cv2.imencode(".png", uncertainty_to_uint8(std))[1].tobytes() if std is not None else None
                mask_name, std_name = segmentation_files_save(model_version=version, video_id=int(row["video"]),
                                                              frame_index=row["frame"], mask_png=mask_png,
                                                              uncertainty_png=std_png)
                items.append(SegmentationPrediction(frame_id=row["frame_id"], model_version=version, mask=mask_name,
                                                    uncertainty=std_name))
        except Exception:
            from modelling.services import _delete_files

            _delete_files([n for item in items for n in (item.mask.name, item.uncertainty.name) if n])
            raise
        written += segmentations_replace(model_version=version, video_ids=chunk, segmentations=items)
    return written


def _predict_sequences(version: ModelVersion, video_ids: Sequence[int]) -> int:
    """Frame (per-frame models) and video scores of a CNN-LSTM; replaces the version's earlier ones."""
    from ml.train_video import predict_video_rows

    model, config = load_version(version, device=_device())
    written = 0
    for start in range(0, len(video_ids), PREDICT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + PREDICT_CHUNK_VIDEOS])
        frames, videos = predict_video_rows(model, _manifest_rows(frames_of_videos(chunk)),  # type: ignore[arg-type]
                                            size=tuple(config["size"]), window=int(config["window"]),
                                            batch_size=int(config.get("batch_size", 8)))
        frame_rows = [FramePrediction(frame_id=f["extra"]["frame_id"], model_version=version, probabilities=f["probs"],
                                      score=f["pred"]) for f in frames]
        video_rows = [VideoPrediction(video_id=int(v["video"]), model_version=version, probabilities=v["probs"],
                                      score=v["pred"]) for v in videos]
        predictions_replace(model_version=version, video_ids=chunk, frame_predictions=frame_rows,
                            video_predictions=video_rows)
        written += len(frame_rows) + len(video_rows)
    return written


@shared_task(name="ml.predict_videos", acks_late=True, reject_on_worker_lost=True,
             time_limit=GPU_TIME_LIMIT)
def predict_videos(video_ids: list[int] | None = None, patient_id: int | None = None,
                   kinds: list[str] | None = None) -> int:
    """Score a video list, a patient or (neither given) every video with the active models (of `kinds`, when
    given: frame_scorer with its aggregator, segmentation, cnn_lstm)."""
    wanted = [ModelKind(k) for k in (kinds or PREDICTING_KINDS)]
    videos: list[int] | None = None
    written = 0
    for kind, run in ((ModelKind.FRAME_SCORER, _predict), (ModelKind.SEGMENTATION, _segment),
                      (ModelKind.CNN_LSTM, _predict_sequences)):
        version = active_version(kind) if kind in wanted else None
        if version is None:
            continue
        if videos is None:
            videos = videos_for_scope(video_ids=video_ids, patient_id=patient_id)
        written += run(version, videos)
    return written




@shared_task(name="ml.compute_agreement_report", acks_late=True, time_limit=settings.CELERY_QUEUE_TIME_LIMITS["analysis"])
def compute_agreement_report(report_id: int) -> str:
    """Agreement statistics of one report's scope (analysis queue)."""
    from agreement.services import agreement_report_compute

    return agreement_report_compute(report_id=report_id).status


@shared_task(name="ml.refresh_stale_agreement_reports", time_limit=settings.CELERY_QUEUE_TIME_LIMITS["analysis"])
def refresh_stale_agreement_reports() -> int:
    from agreement.services import agreement_reports_refresh_stale

    return agreement_reports_refresh_stale()
