"""Writes on models and jobs: submit, progress, cancel, versions, activation, predictions.

Jobs are validated here, at submission, so a bad request fails in the admin's browser and not in a
worker an hour later; tasks are queued with transaction.on_commit so workers never see uncommitted rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import InvalidInput
from core.queue import enqueue_task, task_revoke
from ml.scores import SCORES

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
from .selectors import (
    active_version,
    aggregator_training_videos,
    contoured_frames,
    labelled_frames,
    scoring_job_pending,
    version_has_predictions,
    video_consensus_labels,
    video_patients,
)

if TYPE_CHECKING:  # ml.training imports torch: at run time only where a job needs it
    from ml.training import SequenceTrainConfig, TrainConfig

logger = logging.getLogger(__name__)
#: The Celery tasks of ml/tasks.py, queued by name: training on the gpu queue (CELERY_TASK_ROUTES' `ml.*`),
#: scoring on its own `scoring` queue (`scoring.*`), so neither waits behind the other.
TRAIN_MODEL_TASK = "ml.train_model"
SCORE_VIDEOS_TASK = "scoring.score_videos"
# One chunk of a scoring job (one version, a few videos); several scoring workers share a job's chunks.
SCORE_CHUNK_TASK = "scoring.score_chunk"
#: A job re-delivered more often than this (its worker killed each time) is given up.
MAX_ATTEMPTS = 3
PREDICTING_KINDS = (ModelKind.EMBEDDING, ModelKind.FRAME_SCORER, ModelKind.SEGMENTATION, ModelKind.SEQUENCE)
#: An embedding job holds patients out for validation (and for CV folds): fewer cannot be split.
MIN_EMBEDDING_PATIENTS = 3  # score videos when active
LOG_TAIL_CHARS = 8000
JOB_OPTIONS = {"activate": bool}  # job parameters beyond the model's training config


def training_config_class(kind: str) -> type[TrainConfig]:
    """The ml training configuration a job of `kind` takes as parameters (its defaults fill the form)."""
    from ml.training import (
        AggregatorTrainConfig,
        EmbeddingTrainConfig,
        FrameTrainConfig,
        SegTrainConfig,
        SequenceTrainConfig,
    )

    return {ModelKind.EMBEDDING: EmbeddingTrainConfig, ModelKind.FRAME_SCORER: FrameTrainConfig,
            ModelKind.AGGREGATOR: AggregatorTrainConfig, ModelKind.SEGMENTATION: SegTrainConfig,
            ModelKind.SEQUENCE: SequenceTrainConfig}[ModelKind(kind)]


class JobSubmissionError(InvalidInput):
    """A training job that cannot run; the message says why, for the person who asked."""


def _validate_parameters(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    config_class = training_config_class(kind)
    known = set(config_class().to_dict())  # the dataclass's field names (the defaults are valid)
    unknown = set(parameters) - known - set(JOB_OPTIONS)
    if unknown:
        raise JobSubmissionError(f"unknown parameter(s) for {kind}: {', '.join(sorted(unknown))}; "
                                 f"expected some of {', '.join(sorted(known | set(JOB_OPTIONS)))}")
    options = {name: parameters[name] for name in JOB_OPTIONS if name in parameters}
    for name, kind_of in JOB_OPTIONS.items():
        if name in options and not isinstance(options[name], kind_of):
            raise JobSubmissionError(f"parameter {name} must be {kind_of.__name__}")
    try:
        return {**config_class.from_dict(parameters).to_dict(), **options}
    except (ValueError, TypeError) as error:
        raise JobSubmissionError(f"bad parameters: {error}") from error


def _validate_data(kind: str, selection: DataSelection, parameters: dict[str, Any]) -> None:
    if kind == ModelKind.EMBEDDING:
        labels = video_consensus_labels(selection)
        if len(set(labels.values())) < 2:
            raise JobSubmissionError("no eligible labels: the video scorer needs labelled videos of at least two "
                                     "different scores in this data selection")
        patients = len(set(video_patients(list(labels)).values()))
        if patients < MIN_EMBEDDING_PATIENTS:
            raise JobSubmissionError(f"the selected videos come from {patients} patient(s); early stopping and "
                                     f"calibration hold patients out, so at least {MIN_EMBEDDING_PATIENTS} are needed")
        return
    if kind == ModelKind.SEGMENTATION:
        contoured = contoured_frames(selection)
        if not contoured.rows:
            raise JobSubmissionError("no eligible labels: no contoured frame matches this data selection")
        if not any(contoured.class_counts.values()):
            raise JobSubmissionError("the selected contours hold no marker")
        return
    if kind == ModelKind.SEQUENCE and not cast("SequenceTrainConfig",
                                                training_config_class(kind).from_dict(parameters)).per_frame:
        labels = video_consensus_labels(selection)
        if len(set(labels.values())) < 2:
            raise JobSubmissionError("no eligible labels: the video model needs labelled videos of at least two "
                                     "different scores in this data selection")
        return
    if kind == ModelKind.AGGREGATOR:
        try:
            _, labels = aggregator_training_videos(selection)
        except ValueError as error:
            raise JobSubmissionError(str(error)) from error
        if not labels:
            raise JobSubmissionError("no eligible labels: no labelled video outside the active frame scorer's "
                                     "training set matches this data selection")
        if len(set(labels.values())) < 2:
            raise JobSubmissionError("the aggregator needs videos of at least two different scores")
        return
    counts = labelled_frames(selection).class_counts
    if not counts or sum(counts.values()) == 0:
        raise JobSubmissionError("no eligible labels: no frame matches this data selection")
    missing = [score for score in SCORES if counts.get(score, 0) == 0]
    if missing:
        raise JobSubmissionError(f"score(s) {', '.join(map(str, missing))} have no labels in this selection; "
                                 f"every score 0–3 needs examples")


def training_job_validate(*, kind: str, parameters: dict[str, Any] | None = None,
                          data_selection: dict[str, Any] | None = None) -> tuple[dict[str, Any], DataSelection]:
    """Everything submission checks, without queueing: (normalised parameters, selection)."""
    if kind not in ModelKind.values:
        raise JobSubmissionError(f"unknown model kind {kind!r}; expected one of {', '.join(ModelKind.values)}")
    if not isinstance(parameters or {}, dict) or not isinstance(data_selection or {}, dict):
        raise JobSubmissionError("parameters and data_selection must be JSON objects")
    parameters = _validate_parameters(kind, dict(parameters or {}))
    try:
        selection = DataSelection.from_dict(data_selection)
    except ValueError as error:
        raise JobSubmissionError(str(error)) from error
    _validate_data(kind, selection, parameters)
    return parameters, selection


@transaction.atomic
def training_job_submit(*, kind: str, parameters: dict[str, Any] | None = None,
                        data_selection: dict[str, Any] | None = None, created_by: User | None = None,
                        enqueue: Callable[[int], object] | None = None) -> TrainingJob:
    """Validate and queue a training job. Raises JobSubmissionError with a message for people."""
    parameters, selection = training_job_validate(kind=kind, parameters=parameters, data_selection=data_selection)
    job = TrainingJob.objects.create(kind=kind, parameters=parameters, data_selection=selection.to_dict(),
                                     created_by=created_by, status=JobStatus.QUEUED,
                                     progress={"history": []})
    transaction.on_commit(lambda: (enqueue or training_enqueue)(job.pk))
    return job


def training_job_cancel(*, job: TrainingJob) -> TrainingJob:
    """Queued jobs never start; running ones stop at their next batch (the worker polls the status)."""
    updated = TrainingJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if updated and job.task_id:
        task_revoke(job.task_id)
    return job


def training_job_start(*, job_id: int, task_id: str, worker_host: str, device: str) -> TrainingJob | None:
    """Mark a job (training or scoring) running for this attempt; None when it was cancelled or already
    finished. The row's status is the one state every page reads."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_id)
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.task_id, job.worker_host, job.device = task_id, worker_host, device
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "task_id", "worker_host", "device", "started_at"])
    from .progress import publish_job

    publish_job(job)  # pages learn it runs now, not at its first progress
    return job


def training_job_gave_up(job: TrainingJob, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """After `max_attempts` starts (a worker lost each time: the task is re-delivered) the job fails instead of
    starting again; True when it did."""
    if job.attempts <= max_attempts:
        return False
    training_job_finish(job=job, status=JobStatus.FAILED, error=f"gave up after {max_attempts} attempts")
    return True


def training_job_progress(*, job: TrainingJob, progress: dict[str, Any], log_line: str = "") -> bool:
    """Store progress; returns False when the job was cancelled meanwhile (the worker should stop)."""
    fields: dict[str, Any] = {"progress": progress}
    if log_line:
        job.log_tail = (job.log_tail + log_line.rstrip() + "\n")[-LOG_TAIL_CHARS:]
        fields["log_tail"] = job.log_tail
    job.progress = progress
    updated = TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(**fields)
    if not updated:  # cancelled meanwhile: publish what the row says
        job.refresh_from_db(fields=["status"])
    from .progress import publish_job

    publish_job(job)
    return bool(updated)


def training_job_finish(*, job: TrainingJob, status: str, error: str = "",
                        model_version: ModelVersion | None = None) -> TrainingJob:
    """Final state; a job cancelled meanwhile stays cancelled."""
    TrainingJob.objects.filter(pk=job.pk).exclude(status=JobStatus.CANCELLED).update(
        status=status, error=error[-LOG_TAIL_CHARS:], model_version=model_version, finished_at=timezone.now())
    job.refresh_from_db()
    from .progress import publish_job

    publish_job(job)
    return job


def model_version_create(*, kind: str, name: str, weights: Path, config: dict, metrics: dict,
                         data_snapshot: dict, parent: ModelVersion | None = None) -> ModelVersion:
    """Store the weights file in media storage and record the version (inactive)."""
    version = ModelVersion.objects.create(kind=kind, name=name, config=config, metrics=metrics,
                                          data_snapshot=data_snapshot, parent=parent)
    with weights.open("rb") as handle:
        version.weights.save(f"models/{kind}/{version.pk}/{weights.name}", File(handle), save=True)
    return version


def _verify_weights(version: ModelVersion) -> None:
    """Load the weights and build the model; raises InvalidInput when the file is unusable."""
    from .weights import load_version

    try:
        load_version(version)
    except ValueError as error:
        raise InvalidInput(str(error)) from error


@transaction.atomic
def model_version_activate(*, version: ModelVersion, by: User | None = None, rollback: bool = False) -> ModelVersion:
    """Make `version` the active one of its kind, recorded; corrupt weights leave the previous one active."""
    _verify_weights(version)
    previous = ModelVersion.objects.select_for_update().filter(kind=version.kind, is_active=True).first()
    if previous is None or previous.pk != version.pk:
        if previous is not None:
            ModelVersion.objects.filter(pk=previous.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=timezone.now())
        ModelActivation.objects.create(kind=version.kind, version=version, previous=previous, activated_by=by,
                                       is_rollback=rollback)
        version.refresh_from_db()
    version_score_if_unscored(version=version, by=by)
    return version


def version_score_if_unscored(*, version: ModelVersion, by: User | None = None) -> TrainingJob | None:
    """Queue scoring of every video by an active version that has no predictions yet (a new version, or one
    whose scores were never computed), unless such a job is already queued or running; returns that job.
    The aggregator's video scores come with the active frame scorer's run."""
    from studies.models import Video

    scored = ModelKind.FRAME_SCORER if version.kind == ModelKind.AGGREGATOR else version.kind
    if scored not in PREDICTING_KINDS or (scored != version.kind and active_version(scored) is None):
        return None
    pending = scoring_job_pending(version)
    if pending is not None or version_has_predictions(version) or not Video.objects.exists():
        return pending
    return scoring_job_queue(kinds=[scored], model_version=version, created_by=by)


def model_version_rollback(*, kind: str, by: User | None = None) -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    last = ModelActivation.objects.filter(kind=kind, version__is_active=True).first()
    if last is None or last.previous is None:
        raise InvalidInput(f"no earlier {kind} version to roll back to")
    return model_version_activate(version=last.previous, by=by, rollback=True)


def stored_files_delete(names: list[str]) -> None:
    """Delete media files by storage name; a missing or undeletable one is logged, not raised."""
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # a missing file is not worth failing a prediction run for
            logger.warning("could not delete %s", name)


def segmentation_files_save(*, model_version: ModelVersion, video_id: int, frame_index: int, mask_png: bytes,
                            uncertainty_png: bytes | None) -> tuple[str, str]:
    """Store a frame's mask and uncertainty PNGs: `segmentations/<version>/<video>/<frame>_mask.png` and
    `..._uncertainty.png` (storage names; an existing file gets a fresh suffix, never overwritten)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    stem = f"segmentations/{model_version.pk}/{video_id}/{frame_index:06d}"
    mask = default_storage.save(f"{stem}_mask.png", ContentFile(mask_png))
    uncertainty = default_storage.save(f"{stem}_uncertainty.png", ContentFile(uncertainty_png)) if uncertainty_png else ""
    return mask, uncertainty


def segmentations_replace(*, model_version: ModelVersion, video_ids: Sequence[int],
                          segmentations: Iterable[SegmentationPrediction]) -> int:
    """Replace this version's masks of these videos in one transaction; the files of the replaced rows are
    deleted after the commit (and the new files when the transaction fails)."""
    rows = list(segmentations)
    new_files = [name for row in rows for name in (row.mask.name, row.uncertainty.name) if name]
    try:
        with transaction.atomic():
            _videos_lock(video_ids)
            old = SegmentationPrediction.objects.filter(model_version=model_version, frame__video_id__in=video_ids)
            old_files = [name for pair in old.values_list("mask", "uncertainty") for name in pair if name]
            old.delete()
            SegmentationPrediction.objects.bulk_create(rows, batch_size=2000)
            transaction.on_commit(lambda: stored_files_delete(old_files))
    except Exception:
        stored_files_delete(new_files)
        raise
    return len(rows)


def _videos_lock(video_ids: Sequence[int]) -> None:
    """Serialise writers of the same videos' results (a re-delivered chunk while its first run still writes)."""
    from studies.models import Video

    list(Video.objects.select_for_update().filter(id__in=list(video_ids)).order_by("id").values_list("id", flat=True))


@transaction.atomic
def predictions_replace(*, model_version: ModelVersion, video_ids: Sequence[int],
                        frame_predictions: Iterable[FramePrediction] = (),
                        video_predictions: Iterable[VideoPrediction] = ()) -> tuple[int, int]:
    """Replace this version's predictions for these videos in one transaction: never half-written, never
    doubled (a chunk run twice replaces its own rows; the unique constraints hold per frame and video)."""
    _videos_lock(video_ids)
    FramePrediction.objects.filter(model_version=model_version, frame__video_id__in=video_ids).delete()
    VideoPrediction.objects.filter(model_version=model_version, video_id__in=video_ids).delete()
    frames = FramePrediction.objects.bulk_create(list(frame_predictions), batch_size=2000)
    videos = VideoPrediction.objects.bulk_create(list(video_predictions), batch_size=2000)
    return len(frames), len(videos)


def prediction_run(*, video_ids: list[int] | None = None, patient_id: int | None = None,
                   created_by: User | None = None) -> TrainingJob:
    """Queue scoring with the active models as a job; refused when nothing is active."""
    from studies.models import Patient, Video

    if not any(active_version(kind) is not None for kind in PREDICTING_KINDS):
        raise InvalidInput("no active frame scorer, segmentation or CNN-LSTM model: train or activate one first")
    if video_ids is not None:
        missing = set(video_ids) - set(Video.objects.filter(id__in=video_ids).values_list("id", flat=True))
        if missing:
            raise InvalidInput(f"unknown video id(s): {', '.join(map(str, sorted(missing)))}")
    if patient_id is not None and not Patient.objects.filter(pk=patient_id).exists():
        raise InvalidInput(f"unknown patient id {patient_id}")
    return scoring_job_queue(video_ids=video_ids, patient_id=patient_id, created_by=created_by)


@transaction.atomic
def videos_score_if_model_active(video_ids: list[int]) -> bool:
    """Queue scoring of new videos when a model that scores videos is active (called after ingestion commits).
    Videos arriving while such a job still waits join it: an import of many videos is one job, not one each
    (the row is locked, and a worker that took the job first has made it running, so nothing is lost)."""
    if not video_ids or not any(active_version(kind) is not None for kind in PREDICTING_KINDS):
        return False
    waiting = (TrainingJob.objects.select_for_update()
               .filter(job_type=JobType.SCORING, status=JobStatus.QUEUED, kind="", model_version=None,
                       parameters__patient_id=None).exclude(parameters__video_ids=None)
               .order_by("-created_at", "-id").first())
    if waiting is None:
        scoring_job_queue(video_ids=video_ids)
        return True
    known = list(waiting.parameters["video_ids"])
    waiting.parameters = {**waiting.parameters, "video_ids": known + [v for v in video_ids if v not in set(known)]}
    waiting.save(update_fields=["parameters"])
    return True


def _enqueue(task: str, job_id: int) -> str:
    task_id = enqueue_task(task, job_id)
    TrainingJob.objects.filter(pk=job_id).update(task_id=task_id)
    return task_id


def training_enqueue(job_id: int) -> str:
    """Queue the job's training on the gpu queue and record the task id (cancel revokes it)."""
    return _enqueue(TRAIN_MODEL_TASK, job_id)


def scoring_enqueue(job_id: int) -> str:
    """Queue a scoring job on the scoring queue and record the task id (cancel revokes it)."""
    return _enqueue(SCORE_VIDEOS_TASK, job_id)


def scoring_job_queue(*, video_ids: Sequence[int] | None = None, patient_id: int | None = None,
                      kinds: Sequence[str] | None = None, model_version: ModelVersion | None = None,
                      created_by: User | None = None) -> TrainingJob:
    """Record a scoring job (videos, a patient or every video; the active models of `kinds`, or all) and
    queue it once the caller's transaction commits: the job row shows it queued, running and done."""
    kind_list = [str(ModelKind(k)) for k in kinds] if kinds is not None else None
    job = TrainingJob.objects.create(
        job_type=JobType.SCORING, kind=kind_list[0] if kind_list and len(kind_list) == 1 else "",
        parameters={"video_ids": list(video_ids) if video_ids is not None else None, "patient_id": patient_id,
                    "kinds": kind_list},
        model_version=model_version, created_by=created_by, status=JobStatus.QUEUED, progress={})
    transaction.on_commit(lambda: scoring_enqueue(job.pk))
    return job


def scoring_chunks_dispatch(*, job: TrainingJob, chunks: list[dict[str, Any]], steps: int) -> None:
    """Split a running scoring job into chunk tasks ({"chunk", "version", "videos"}) that every scoring
    worker takes from the queue; the job's progress sums the chunks done. A parent run again (re-delivered)
    sends only the chunks not done yet."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        progress = dict(locked.progress or {})
        done = set(progress.get("chunks_done", []))
        progress.update(phase="scoring", chunks=len(chunks), chunks_done=sorted(done), steps=steps,
                        step=progress.get("step", 0) if done else 0, rows=progress.get("rows", 0) if done else 0,
                        workers=progress.get("workers", {}) if done else {})
        locked.progress = progress
        locked.log_tail = (locked.log_tail + f"{len(chunks) - len(done)} chunks of up to "
                           f"{max(len(c['videos']) for c in chunks)} videos queued\n")[-LOG_TAIL_CHARS:]
        locked.save(update_fields=["progress", "log_tail"])
        pending = [c for c in chunks if c["chunk"] not in done]
        if not pending:  # every chunk was done before this parent ran again
            transaction.on_commit(lambda: training_job_finish(job=locked, status=JobStatus.SUCCEEDED,
                                                              model_version=locked.model_version))
        transaction.on_commit(lambda: [enqueue_task(SCORE_CHUNK_TASK, job.pk, c["chunk"], c["version"], c["videos"])
                                       for c in pending])
    from .progress import publish_job

    publish_job(locked)


def scoring_chunk_done(*, job_id: int, chunk: int, videos: int, rows: int, worker_host: str) -> TrainingJob | None:
    """Count a finished chunk once (a re-delivered chunk that ran twice counts once); the last one finishes
    the job. None when the job is no longer running (cancelled or failed)."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING:
            return None
        progress = dict(job.progress or {})
        done = set(progress.get("chunks_done", []))
        if chunk not in done:
            done.add(chunk)
            workers = dict(progress.get("workers", {}))
            workers[worker_host] = workers.get(worker_host, 0) + 1
            progress.update(step=progress.get("step", 0) + videos, rows=progress.get("rows", 0) + rows,
                            workers=workers)
        progress["chunks_done"] = sorted(done)
        finished = len(done) >= int(progress.get("chunks", 0))
        if finished:
            progress["phase"] = "done"
        job.progress = progress
        job.log_tail = (job.log_tail + f"chunk {chunk}: {videos} videos, {rows} rows on {worker_host}\n"
                        )[-LOG_TAIL_CHARS:]
        job.save(update_fields=["progress", "log_tail"])
    if finished:
        return training_job_finish(job=job, status=JobStatus.SUCCEEDED, model_version=job.model_version)
    from .progress import publish_job

    publish_job(job)
    return job
