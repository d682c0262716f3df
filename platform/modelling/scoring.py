"""Scoring videos with the active models on a worker: the embedding video scorer (calibrated video
scores, findings, per-frame probabilities), frame scores (with the aggregator's video scores),
segmentation masks with MC-dropout uncertainty, and the sequence (CNN-LSTM) models' scores.

Called by the `ml.predict_videos` Celery task (and by training, for the aggregator's inputs); every
write replaces a model version's earlier results for the same videos in one transaction.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from core.media_cache import is_local, local_folder, local_path, media_session
from ml.data import ManifestRow
from ml.embeddings import EmbeddingCache, EmbeddingSpec, VideoBag

from .models import (
    FramePrediction,
    JobStatus,
    ModelKind,
    ModelVersion,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from .selectors import (
    active_version,
    frames_of_videos,
    job_is_cancelled,
    video_hashes,
    video_patients,
    videos_for_scope,
    videos_with_frame_predictions,
)
from .services import (
    PREDICTING_KINDS,
    predictions_replace,
    scoring_chunk_done,
    scoring_chunks_dispatch,
    segmentation_files_save,
    segmentations_replace,
    stored_files_delete,
    training_job_finish,
    training_job_gave_up,
    training_job_progress,
    training_job_start,
)
from .weights import load_version

if TYPE_CHECKING:
    from ml.aggregation import UninormAggregator
    from ml.training import EmbeddingTrainConfig

logger = logging.getLogger(__name__)
PREDICT_CHUNK_VIDEOS = 16
SEGMENT_CHUNK_VIDEOS = 2  # masks of a chunk are written in one transaction; MC dropout makes chunks slow


def torch_device() -> str:
    """The worker's device: the GPU when there is one, else the CPU (the same code trains on both)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def manifest_rows(rows: Sequence[dict]) -> list[ManifestRow]:
    """Frame rows of the selectors (`image`: the storage name) as the ml core's manifest rows, each image a
    local file (core.media_cache; kept while the job runs), platform ids kept in `extra`."""
    return [ManifestRow(patient=r["patient"], video=r["video"], score=r.get("score"), image=local_path(r["image"]),
                        extra={"frame_id": r["frame_id"], "index": r["frame"]}) for r in rows]


def _mean_probs_by_video(predictions: Sequence[dict]) -> dict[str, list[float]]:
    """Mean frame distribution per video (the frame scorer's own video prediction, argmax_mean)."""
    videos = np.array([p["video"] for p in predictions])
    probs = np.array([p["probs"] for p in predictions], dtype=np.float64)
    names, index = np.unique(videos, return_inverse=True)
    sums = np.zeros((len(names), probs.shape[1]))
    np.add.at(sums, index, probs)
    means = sums / np.bincount(index)[:, None]
    return {str(name): [round(float(x), 6) for x in row] for name, row in zip(names, means, strict=True)}


def frame_scorer_predict(scorer: ModelVersion, video_ids: Sequence[int], *, missing_only: bool = False,
                         on_progress: Callable[[int], None] | None = None) -> int:
    """Score frames of videos with `scorer` (and the active aggregator) and replace their predictions;
    `missing_only` skips videos the scorer already scored; `on_progress` hears how many videos are done.
    Returns the frame predictions written."""
    from ml.inference import predict_frames, predict_videos

    if missing_only:
        done = videos_with_frame_predictions(scorer, video_ids)
        video_ids = [v for v in video_ids if v not in done]
    if not video_ids:
        return 0
    model, config = load_version(scorer, device=torch_device())
    aggregator_version = active_version(ModelKind.AGGREGATOR)
    aggregator = (cast("UninormAggregator", load_version(aggregator_version)[0])  # what an aggregator loads as
                  if aggregator_version is not None else None)
    written = 0
    for start in range(0, len(video_ids), PREDICT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + PREDICT_CHUNK_VIDEOS])
        rows = frames_of_videos(chunk)
        predictions = predict_frames(model, manifest_rows(rows), size=tuple(config["size"]), batch_size=64)
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
        if on_progress is not None:
            on_progress(start + len(chunk))
    return written


def segmentation_predict(version: ModelVersion, video_ids: Sequence[int], *,
                         on_progress: Callable[[int], None] | None = None) -> int:
    """Masks and MC-dropout uncertainty images of the frames of videos (every `predict_frame_step`-th frame)
    with a segmentation ensemble; replaces the version's earlier ones.

    Each row also keeps the frame's mean pixel standard deviation (`uncertainty_mean`, what "label next"
    ranks by): over the whole frame rather than the predicted foreground, because a finding the ensemble
    half-sees is uncertain yet predicted background, and an empty foreground has no mean."""
    import cv2

    from ml.inference import segment_images, uncertainty_to_uint8

    model, config = load_version(version, device=torch_device())
    step = int(config.get("predict_frame_step", 1))
    written = 0
    for start in range(0, len(video_ids), SEGMENT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + SEGMENT_CHUNK_VIDEOS])
        rows = [r for r in frames_of_videos(chunk) if r["frame"] % step == 0]
        items: list[SegmentationPrediction] = []
        try:
            outputs = segment_images(model, [local_path(r["image"]) for r in rows],  # type: ignore[arg-type]
                                     size=tuple(config["size"]), mc_samples=int(config.get("mc_samples", 40)))
            for row, (mask, std) in zip(rows, outputs, strict=True):
                mask_png = cv2.imencode(".png", mask)[1].tobytes()
                std_png = cv2.imencode(".png", uncertainty_to_uint8(std))[1].tobytes() if std is not None else None
                mask_name, std_name = segmentation_files_save(model_version=version, video_id=int(row["video"]),
                                                              frame_index=row["frame"], mask_png=mask_png,
                                                              uncertainty_png=std_png)
                items.append(SegmentationPrediction(frame_id=row["frame_id"], model_version=version, mask=mask_name,
                                                    uncertainty=std_name,
                                                    uncertainty_mean=float(std.mean()) if std is not None else None))
        except Exception:
            stored_files_delete([n for item in items for n in (item.mask.name, item.uncertainty.name) if n])
            raise
        written += segmentations_replace(model_version=version, video_ids=chunk, segmentations=items)
        if on_progress is not None:
            on_progress(start + len(chunk))
    return written


def sequence_predict(version: ModelVersion, video_ids: Sequence[int], *,
                     on_progress: Callable[[int], None] | None = None) -> int:
    """Frame (per-frame models) and video scores of a sequence (CNN-LSTM) model; replaces the version's
    earlier ones."""
    from ml.inference import predict_sequence_rows

    model, config = load_version(version, device=torch_device())
    written = 0
    for start in range(0, len(video_ids), PREDICT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + PREDICT_CHUNK_VIDEOS])
        frames, videos = predict_sequence_rows(model, manifest_rows(frames_of_videos(chunk)),
                                            size=tuple(config["size"]), window=int(config["window"]),
                                            batch_size=int(config.get("batch_size", 8)))
        frame_rows = [FramePrediction(frame_id=f["extra"]["frame_id"], model_version=version, probabilities=f["probs"],
                                      score=f["pred"]) for f in frames]
        video_rows = [VideoPrediction(video_id=int(v["video"]), model_version=version, probabilities=v["probs"],
                                      score=v["pred"]) for v in videos]
        predictions_replace(model_version=version, video_ids=chunk, frame_predictions=frame_rows,
                            video_predictions=video_rows)
        written += len(frame_rows) + len(video_rows)
        if on_progress is not None:
            on_progress(start + len(chunk))
    return written


def embedding_cache() -> EmbeddingCache:
    """Frame embeddings, one file per encoder, video and frame step, reused by every job and prediction run:
    in the media folder of a folder storage, else in this worker's folder and shared through the bucket."""
    return EmbeddingCache(local_folder("embeddings"))


def _shared_through_storage(cache: EmbeddingCache, spec: EmbeddingSpec, content_id: str, step: int,
                            compute: Callable[[], tuple[np.ndarray, np.ndarray]]
                            ) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """With object storage, a worker missing an embedding file takes the one another worker stored, and
    stores what it computes (`embeddings/<spec>/<video hash>-s<step>.npz`); a folder storage shares already."""
    if is_local():
        return compute
    name = "embeddings/" + cache.path(spec, content_id, step).relative_to(cache.folder).as_posix()

    def fetch_or_compute() -> tuple[np.ndarray, np.ndarray]:
        if default_storage.exists(name):
            with np.load(local_path(name)) as data:
                return data["frames"], data["embeddings"]
        frames, vectors = compute()
        buffer = io.BytesIO()
        np.savez(buffer, frames=frames, embeddings=vectors)
        default_storage.save(name, ContentFile(buffer.getvalue()))
        return frames, vectors

    return fetch_or_compute


def embedding_bags(video_ids: Sequence[int], config: EmbeddingTrainConfig, *, labels: Mapping[int, int] | None = None,
                   findings: Mapping[int, Mapping[str, bool]] | None = None, frame_rows: Sequence[dict] | None = None,
                   on_progress: Callable[[int, int], None] | None = None) -> list[VideoBag]:
    """Every video's embedded frames (every `frame_step`-th), computed once per encoder and cached.
    `frame_rows`: the videos' rows of `frames_of_videos`, when the caller has them already."""
    from ml.embeddings import FrameEmbedder, embed_image_files

    spec, step = config.embedding_spec(), config.frame_step
    cache, hashes, patients = embedding_cache(), video_hashes(video_ids), video_patients(video_ids)
    kept: dict[int, list[dict]] = {video_id: [] for video_id in video_ids}
    for row in frame_rows if frame_rows is not None else frames_of_videos(list(video_ids)):
        if row["frame"] % step == 0:
            kept[int(row["video"])].append(row)
    embedder: FrameEmbedder | None = None
    bags = []
    for done, video_id in enumerate(video_ids, start=1):

        def compute(rows: list[dict] = kept[video_id]) -> tuple[np.ndarray, np.ndarray]:
            nonlocal embedder
            embedder = embedder or FrameEmbedder(spec, device=torch_device())
            images = [local_path(r["image"]) for r in rows]  # fetched only for embeddings not cached yet
            return embed_image_files(embedder, images, [r["frame"] for r in rows])

        frames, vectors = cache.get(spec, content_id=hashes[video_id], frame_step=step,
                                    compute=_shared_through_storage(cache, spec, hashes[video_id], step, compute))
        bags.append(VideoBag(video=str(video_id), patient=str(patients[video_id]), embeddings=vectors, frames=frames,
                             score=(labels or {}).get(video_id), findings=dict((findings or {}).get(video_id, {}))))
        if on_progress is not None:
            on_progress(done, len(video_ids))
    return bags


def embedding_predict(version: ModelVersion, video_ids: Sequence[int], *,
                      on_progress: Callable[[int], None] | None = None) -> int:
    """Calibrated video scores, finding probabilities and per-frame score probabilities of an embedding
    video scorer; replaces the version's earlier ones."""
    from ml.training import EmbeddingTrainConfig, bag_predictions

    model, config = load_version(version, device=torch_device())
    recipe = EmbeddingTrainConfig.from_dict(config)
    written = 0
    for start in range(0, len(video_ids), PREDICT_CHUNK_VIDEOS):
        chunk = list(video_ids[start:start + PREDICT_CHUNK_VIDEOS])
        rows = frames_of_videos(chunk)
        index = {(int(r["video"]), r["frame"]): r["frame_id"] for r in rows}
        predictions = bag_predictions(model, embedding_bags(chunk, recipe, frame_rows=rows))  # type: ignore[arg-type]
        frame_rows = [FramePrediction(frame_id=index[(int(p["video"]), frame)], model_version=version,
                                      probabilities=[round(x, 6) for x in probs], score=int(np.argmax(probs)))
                      for p in predictions for frame, probs in zip(p["frames"], p["frame_probs"], strict=True)]
        video_rows = [VideoPrediction(video_id=int(p["video"]), model_version=version,
                                      probabilities=[round(x, 6) for x in p["probs"]], score=p["pred"],
                                      findings={k: round(v, 6) for k, v in p["findings"].items()})
                      for p in predictions]
        predictions_replace(model_version=version, video_ids=chunk, frame_predictions=frame_rows,
                            video_predictions=video_rows)
        written += len(frame_rows) + len(video_rows)
        if on_progress is not None:
            on_progress(start + len(chunk))
    return written


#: Each scores videos with one version and replaces its earlier results; on_progress hears the videos done.
PREDICTORS: dict[str, Callable[..., int]] = {
    ModelKind.EMBEDDING: embedding_predict,
    ModelKind.FRAME_SCORER: frame_scorer_predict, ModelKind.SEGMENTATION: segmentation_predict,
    ModelKind.SEQUENCE: sequence_predict,
}


def scoring_scope(*, video_ids: list[int] | None = None, patient_id: int | None = None,
                  kinds: list[str] | None = None) -> tuple[list[ModelVersion], list[int]]:
    """(active versions of `kinds`, videos) a scoring run covers."""
    wanted = [ModelKind(k) for k in (kinds or PREDICTING_KINDS)]
    versions = [v for v in (active_version(kind) for kind in PREDICTING_KINDS if kind in wanted) if v is not None]
    return versions, videos_for_scope(video_ids=video_ids, patient_id=patient_id) if versions else []


def videos_predict(*, video_ids: list[int] | None = None, patient_id: int | None = None,
                   kinds: list[str] | None = None,
                   on_progress: Callable[[str, int, int], None] | None = None) -> int:
    """Score a video list, a patient or (neither given) every video with the active models (of `kinds`, when
    given: frame scorer with its aggregator, segmentation, sequence). Returns the rows written.
    `on_progress(model, done, total)`: videos done over videos × models, after each chunk."""
    versions, videos = scoring_scope(video_ids=video_ids, patient_id=patient_id, kinds=kinds)
    total = len(videos) * len(versions)
    written = 0
    for number, version in enumerate(versions):
        name, offset = f"{version.kind} v{version.pk}", number * len(videos)

        def heard(done: int, name: str = name, offset: int = offset) -> None:
            if on_progress is not None:
                on_progress(name, offset + done, total)

        heard(0)
        written += PREDICTORS[version.kind](version, videos, on_progress=heard)
    return written


class ScoringCancelled(Exception):
    """Someone cancelled the scoring job: stop between chunks (what is written stays)."""


def scoring_job_run(*, job_id: int, task_id: str, worker_host: str) -> str:
    """Run one scoring job (its row says which videos and models), its progress on the row and the job's
    websocket group like training's. Returns succeeded, failed, cancelled or skipped."""
    job = training_job_start(job_id=job_id, task_id=task_id, worker_host=worker_host, device=torch_device())
    if job is None:
        return "skipped"
    if training_job_gave_up(job):
        return "failed"
    state: dict[str, Any] = {"phase": "scoring", "model": "", "step": 0, "steps": 0}

    def report(model: str, done: int, total: int) -> None:
        state.update(model=model, step=done, steps=total)
        if not training_job_progress(job=job, progress=dict(state)):
            raise ScoringCancelled

    params = job.parameters or {}
    scope = {"video_ids": params.get("video_ids"), "patient_id": params.get("patient_id"), "kinds": params.get("kinds")}
    versions, videos = scoring_scope(**scope)
    size = int(settings.PLEURA_SCORING_CHUNK_VIDEOS)
    if len(videos) > size:  # more than one chunk: scoring workers share them (scoring_chunk_run)
        chunks = [{"chunk": number, "version": version.pk, "videos": part} for number, (version, part) in enumerate(
            (version, videos[start:start + size]) for version in versions for start in range(0, len(videos), size))]
        scoring_chunks_dispatch(job=job, chunks=chunks, steps=len(videos) * len(versions))
        return "dispatched"
    try:
        with media_session():
            written = videos_predict(**scope, on_progress=report)
    except ScoringCancelled:
        training_job_finish(job=job, status=JobStatus.CANCELLED)
        return "cancelled"
    except Exception as error:
        logger.exception("scoring job %s failed", job_id)
        training_job_finish(job=job, status=JobStatus.FAILED,
                            error=f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        return "failed"
    training_job_progress(job=job, progress={**state, "phase": "done", "step": state["steps"], "rows": written},
                          log_line=f"{written} predictions written")
    training_job_finish(job=job, status=JobStatus.SUCCEEDED, model_version=job.model_version)
    return "succeeded"


def scoring_chunk_run(*, job_id: int, chunk: int, version_id: int, video_ids: list[int], worker_host: str) -> str:
    """One chunk of a scoring job: score these videos with one version (replacing that version's earlier
    results, so a chunk re-delivered after a lost worker writes nothing twice) and count it on the job.
    Returns succeeded, failed or skipped (the job was cancelled, failed or is done)."""
    if job_is_cancelled(job_id) or not TrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).exists():
        return "skipped"
    version = ModelVersion.objects.get(pk=version_id)
    logger.info("scoring chunk %s of job %s (%d videos, version %s) on %s", chunk, job_id, len(video_ids),
                version_id, worker_host)
    try:
        with media_session():
            rows = PREDICTORS[version.kind](version, video_ids)
    except Exception as error:
        logger.exception("scoring job %s, chunk %s failed", job_id, chunk)
        training_job_finish(job=TrainingJob.objects.get(pk=job_id), status=JobStatus.FAILED,
                            error=f"chunk {chunk}: {type(error).__name__}: {error}\n{traceback.format_exc()}")
        return "failed"
    scoring_chunk_done(job_id=job_id, chunk=chunk, videos=len(video_ids), rows=rows, worker_host=worker_host)
    return "succeeded"
