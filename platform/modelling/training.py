"""Running one training job on a worker: read its data selection, train with the ml core, record the version.

Called by the `ml.train_model` Celery task (ml/tasks.py), which stays a thin entry point. Training
checkpoints live in media storage under `jobs/<id>/`, so a job re-delivered after its worker was
killed resumes from its last epoch.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from core.media_cache import local_folder, local_path, media_session
from ml.metrics import to_strict_json
from ml.training import TrainConfig, TrainProgress

from .models import JobStatus, ModelKind, ModelVersion, TrainingJob
from .scoring import embedding_bags, frame_scorer_predict, manifest_rows, torch_device
from .selection import DataSelection
from .selectors import (
    active_version,
    aggregator_training_videos,
    contoured_frames,
    frame_prediction_rows,
    frames_of_videos,
    job_is_cancelled,
    labelled_frames,
    scoring_job_pending,
    video_consensus_findings,
    video_consensus_labels,
)
from .services import (
    model_version_activate,
    model_version_create,
    training_job_finish,
    training_job_gave_up,
    training_job_progress,
    training_job_start,
)

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.5
CANCEL_POLL_S = 1.0
#: Cross-validation of an embedding job: up to this many folds, each test fold two patients or more.
CV_FOLDS = 5
MIN_CV_PATIENTS = 6
ConfigT = TypeVar("ConfigT", bound=TrainConfig)


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
                          step=progress.step, steps=progress.steps, loss=to_strict_json(progress.loss))
        line = ""
        if progress.phase == "epoch" and progress.metrics is not None:
            record = to_strict_json(dict(progress.metrics))
            self.state["history"] = [r for r in self.state["history"] if r.get("epoch") != progress.epoch] + [record]
            line = f"epoch {progress.epoch}/{progress.epochs}: " + ", ".join(
                f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float))
        now = time.monotonic()
        if line or progress.phase != "train" or now - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = now
            if not training_job_progress(job=self.job, progress=to_strict_json(self.state), log_line=line):
                self.cancelled = True

    def note(self, line: str) -> None:
        training_job_progress(job=self.job, progress=to_strict_json(self.state), log_line=line)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self._last_poll >= CANCEL_POLL_S:
            self._last_poll = now
            self.cancelled = job_is_cancelled(self.job.pk)
        return self.cancelled


def _job_dir(job: TrainingJob) -> Path:
    """The job's local working folder (its checkpoints: a re-delivered job on the same worker resumes)."""
    return local_folder(f"jobs/{job.pk}")


def _split_patients(rows: Sequence[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    from ml.data.splits import patient_train_test_split

    patients = sorted({r["patient"] for r in rows})
    if fraction <= 0 or len(patients) < 3:
        return list(rows), []
    train_patients, _ = patient_train_test_split(patients, test_fraction=fraction, seed=seed)
    keep = set(train_patients)
    return [r for r in rows if r["patient"] in keep], [r for r in rows if r["patient"] not in keep]


def _record_version(kind: str, name: str, checkpoint: str | Path, *, config: dict, metrics: dict, snapshot: dict,
                    selection: DataSelection, val_rows: Sequence[dict]) -> ModelVersion:
    """A trained checkpoint as a new version of `kind`, with what it learned from: the data snapshot, the
    selection and the validation patients; its parent is the version active until now."""
    snapshot = {**snapshot, "selection": selection.to_dict(),
                "validation_patients": sorted({r["patient"] for r in val_rows})}
    return model_version_create(kind=kind, name=name, weights=Path(checkpoint), config=config,
                                metrics=to_strict_json(metrics), data_snapshot=snapshot, parent=active_version(kind))


def _note_resume(reporter: JobReporter, job: TrainingJob, checkpoint: Path) -> Path | None:
    """The checkpoint to resume from (None for a fresh start), logged."""
    if not checkpoint.is_file():
        return None
    from ml.checkpoint import load_checkpoint

    epoch = int(load_checkpoint(checkpoint)["epoch"])
    reporter.state["resumed_from_epoch"] = epoch
    reporter.note(f"attempt {job.attempts}: resuming from the checkpoint of epoch {epoch}")
    return checkpoint


def _job_inputs(job: TrainingJob, config_class: type[ConfigT]) -> tuple[ConfigT, DataSelection]:
    """The job's training configuration (on this worker's device) and its data selection."""
    config = config_class.from_dict({**job.parameters, "device": torch_device()})
    return config, DataSelection.from_dict(job.data_selection)


def _stopped(result: Any, reporter: JobReporter) -> bool:
    """Cancelled (by the trainer's check or ours) or nothing to record."""
    return bool(result.cancelled or reporter.cancelled or result.checkpoint is None)


def _train_frame_scorer(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.training import FrameTrainConfig, train_frame_scorer

    config, selection = _job_inputs(job, FrameTrainConfig)
    data = labelled_frames(selection)
    train_rows, val_rows = _split_patients(data.rows, selection.validation_fraction, config.seed)
    folder = _job_dir(job)
    resume = _note_resume(reporter, job, folder / "checkpoint.pt")
    reporter.note(f"{len(train_rows)} training frames, {len(val_rows)} validation frames on {config.device}")
    result = train_frame_scorer(config, manifest_rows(train_rows), val_rows=manifest_rows(val_rows) or None,
                                out_dir=folder, resume=resume, progress_callback=reporter,
                                should_stop=reporter.should_stop)
    if _stopped(result, reporter):
        return None
    assert result.checkpoint is not None  # (_stopped: no checkpoint, nothing to record)
    return _record_version(ModelKind.FRAME_SCORER, config.model, result.checkpoint, config=config.to_dict(),
                           metrics=result.metrics, snapshot=data.snapshot, selection=selection, val_rows=val_rows)


def _train_embedding(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    """Embed the selected videos once (cached), cross-validate the head by patient, train the final
    head with early stopping and calibration, and record all of it with the version."""
    from ml.training import EmbeddingTrainConfig, TrainingCancelled, cross_validate, train_embedding_model

    config, selection = _job_inputs(job, EmbeddingTrainConfig)
    labels, findings = video_consensus_labels(selection), video_consensus_findings(selection)
    videos = sorted(labels)
    reporter.note(f"embedding {len(videos)} labelled videos (every {config.frame_step}th frame, {config.encoder} "
                  f"{config.pretrained or 'random'} at {config.size}px; cached) on {torch_device()}")

    def embedded(done: int, total: int) -> None:
        reporter(TrainProgress("train", 1, 1, done, total, float("nan"), None))
        if reporter.should_stop():
            raise TrainingCancelled

    try:
        bags = embedding_bags(videos, config, labels=labels, findings=findings, on_progress=embedded)
        patients = len({b.patient for b in bags})
        cv = None
        if patients >= MIN_CV_PATIENTS:
            cv = cross_validate(config, bags, k=min(CV_FOLDS, patients // 2))
            reporter.note(f"patient-level CV ({cv['folds']} folds): weighted F1 {cv['f1_weighted_mean']:.3f}, "
                          f"quadratic kappa {cv['quadratic_kappa_mean']:.3f}, ECE {cv['ece_mean']:.3f}")
        else:
            reporter.note(f"{patients} patients: too few for cross-validation (needs {MIN_CV_PATIENTS})")
        result = train_embedding_model(config, bags, out_dir=_job_dir(job), progress_callback=reporter,
                                       should_stop=reporter.should_stop)
    except TrainingCancelled:
        return None
    if reporter.cancelled or result.checkpoint is None:
        return None
    metrics = {**result.metrics, "cv": {k: v for k, v in cv.items() if k != "predictions"} if cv else None}
    snapshot = {"videos": videos, "video_labels": len(labels), "embeddings": config.embedding_spec().key,
                "class_counts": {s: list(labels.values()).count(s) for s in sorted(set(labels.values()))},
                "findings": sorted({code for known in findings.values() for code in known})}
    return _record_version(ModelKind.EMBEDDING, config.model, result.checkpoint, config=config.to_dict(),
                           metrics=metrics, snapshot=snapshot, selection=selection,
                           val_rows=[{"patient": p} for p in result.metrics["val_patients"]])


def _train_segmentation(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.data import SegmentationSample
    from ml.training import SegTrainConfig, train_segmentation

    config, selection = _job_inputs(job, SegTrainConfig)
    data = contoured_frames(selection)
    train_rows, val_rows = _split_patients(data.rows, selection.validation_fraction, config.seed)
    folder = _job_dir(job)
    if (folder / "members").is_dir():
        reporter.note(f"attempt {job.attempts}: resuming from the members' checkpoints")

    def samples(rows: Sequence[dict]) -> list[SegmentationSample]:
        return [SegmentationSample(image=local_path(r["image"]), mask=r["mask"], patient=r["patient"], video=r["video"],
                                   frame=r["frame"], extra={"frame_id": r["frame_id"]}) for r in rows]

    reporter.note(f"{len(train_rows)} training frames, {len(val_rows)} validation frames with masks; members "
                  f"{', '.join(config.models)} on {config.device}")
    result = train_segmentation(config, samples(train_rows), val_samples=samples(val_rows) or None, out_dir=folder,
                                progress_callback=reporter, should_stop=reporter.should_stop)
    if _stopped(result, reporter):
        return None
    assert result.checkpoint is not None  # (_stopped: no checkpoint, nothing to record)
    return _record_version(ModelKind.SEGMENTATION, "seg_ensemble:" + "+".join(config.models), result.checkpoint,
                           config=config.to_dict(), metrics=result.metrics, snapshot=data.snapshot,
                           selection=selection, val_rows=val_rows)


def _train_sequence(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.training import SequenceTrainConfig, train_sequence_model

    config, selection = _job_inputs(job, SequenceTrainConfig)
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
    result = train_sequence_model(config, manifest_rows(train_rows), video_labels=video_labels,
                                  val_rows=manifest_rows(val_rows) or None, val_video_labels=video_labels,
                                  out_dir=folder, resume=resume, progress_callback=reporter,
                                  should_stop=reporter.should_stop)
    if _stopped(result, reporter):
        return None
    assert result.checkpoint is not None  # (_stopped: no checkpoint, nothing to record)
    return _record_version(ModelKind.SEQUENCE, config.model, result.checkpoint, config=config.to_dict(),
                           metrics=result.metrics, snapshot=snapshot, selection=selection, val_rows=val_rows)


def _train_aggregator(job: TrainingJob, reporter: JobReporter) -> ModelVersion | None:
    from ml.training import AggregatorTrainConfig, train_aggregator

    config = AggregatorTrainConfig.from_dict(job.parameters)
    scorer, labels = aggregator_training_videos(DataSelection.from_dict(job.data_selection))
    if not labels:
        raise ValueError("every labelled video was used to train the active frame scorer; the aggregator needs "
                         "videos it never saw")
    frame_scorer_predict(scorer, sorted(labels), missing_only=True,
                         on_progress=lambda done: reporter.state.update(predicted_videos=done))
    predictions = frame_prediction_rows(scorer, list(labels))
    reporter.note(f"aggregator on {len(labels)} videos ({len(predictions)} frame predictions) of frame scorer "
                  f"v{scorer.pk}")
    result = train_aggregator(config, predictions, {str(v): s for v, s in labels.items()}, out_dir=_job_dir(job),
                              progress_callback=reporter, should_stop=reporter.should_stop)
    if result.cancelled or reporter.cancelled or result.path is None:
        return None
    history = to_strict_json(result.history)
    return model_version_create(
        kind=ModelKind.AGGREGATOR, name=f"uninorm_{config.tnorm}_{config.off_diagonal}", weights=Path(result.path),
        config=config.to_dict(), metrics={"final_loss": (history.get("loss") or [None])[-1]},
        data_snapshot={"videos": sorted(labels), "frame_scorer": scorer.pk, "video_labels": len(labels)},
        parent=active_version(ModelKind.AGGREGATOR))


TRAINERS: dict[str, Callable[[TrainingJob, JobReporter], ModelVersion | None]] = {
    ModelKind.EMBEDDING: _train_embedding,
    ModelKind.FRAME_SCORER: _train_frame_scorer, ModelKind.AGGREGATOR: _train_aggregator,
    ModelKind.SEGMENTATION: _train_segmentation, ModelKind.SEQUENCE: _train_sequence,
}


def training_job_run(*, job_id: int, task_id: str, worker_host: str) -> str:
    """Train the job's model, record a ModelVersion, activate it unless told not to (which queues a scoring job).
    Returns the outcome: succeeded, failed, cancelled or skipped (already finished or cancelled)."""
    job = training_job_start(job_id=job_id, task_id=task_id, worker_host=worker_host, device=torch_device())
    if job is None:
        return "skipped"
    if training_job_gave_up(job):
        return "failed"
    reporter = JobReporter(job)
    try:
        with media_session():  # the job's frames stay in this worker's media cache while it trains
            version = TRAINERS[ModelKind(job.kind)](job, reporter)
        if version is None:
            training_job_finish(job=job, status=JobStatus.CANCELLED)
            return "cancelled"
        if job.parameters.get("activate", True) is not False:
            model_version_activate(version=version, by=job.created_by)
            scoring = scoring_job_pending(version)
            reporter.note(f"model version {version.pk} activated"
                          + (f"; scoring every video as job {scoring.pk}" if scoring is not None else ""))
        training_job_finish(job=job, status=JobStatus.SUCCEEDED, model_version=version)
        return "succeeded"
    except Exception as error:
        logger.exception("training job %s failed", job_id)
        training_job_finish(job=job, status=JobStatus.FAILED,
                            error=f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        return "failed"
