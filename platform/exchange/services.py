"""Exports (streamed, or as a job for large selections) and imports (validated like the API)."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from annotations.models import Contour
from annotations.services import (
    LabelValidationError,
    frame_contours_write,
    frame_scores_write,
    video_findings_write,
    video_score_write,
)
from core.errors import InvalidInput
from core.queue import enqueue_task
from studies.models import Frame
from studies.selectors import frames_visible_to, is_admin, videos_visible_to

from . import pg_export
from .formats import (
    DEFAULT_CLASS_NAMES,
    ContourRecord,
    FindingRecord,
    FormatError,
    FrameKey,
    FrameRef,
    LabelRow,
    ScoreRecord,
    ZipLimits,
    read_coco,
    read_coco_findings,
    read_labelme_findings,
    read_labelme_folder,
    read_score_csv,
    write_coco,
    write_csv,
    write_jsonl,
    write_labelme_zip,
    write_manifest,
    write_masks_zip,
    zip_extract,
)
from .models import ExportJob, ExportStatus
from .selectors import (
    LABEL_TYPES,
    consensus_findings,
    frame_refs,
    label_count,
    label_rows,
    labelled_frame_ids,
)

#: The export task of exchange/tasks.py, queued by name (the analysis queue: `exchange.*`).
RUN_EXPORT_TASK = "exchange.run_export"


def stream_limit() -> int:
    """Above this many labels an export runs as a job and leaves a file to download."""
    return int(settings.PLEURA_EXPORT_STREAM_LIMIT)


@dataclass(frozen=True)
class ExportFormat:
    content_type: str
    extension: str
    label_types: tuple[str, ...]
    frames_only: bool = False  # per-frame formats: the limit counts frames with images


FORMATS = {
    "csv": ExportFormat("text/csv", "csv", LABEL_TYPES),
    "jsonl": ExportFormat("application/x-ndjson", "jsonl", LABEL_TYPES),
    "coco": ExportFormat("application/json", "json", ("contour", "frame_score"), frames_only=True),
    "labelme": ExportFormat("application/zip", "zip", ("contour",), frames_only=True),
    "masks": ExportFormat("application/zip", "zip", ("contour",), frames_only=True),
    "manifest": ExportFormat("application/x-ndjson", "jsonl", ("frame_score",)),
}


def _by_frame(frames: Iterable[FrameRef], labels: Iterable[LabelRow]) -> Iterator[tuple[FrameRef, list[LabelRow]]]:
    """Merge-join frames and labels, both sorted by frame id."""
    groups = itertools.groupby(labels, key=lambda row: row["frame_id"])
    current = next(groups, None)
    for frame in frames:
        while current is not None and current[0] < frame["frame_id"]:
            current = next(groups, None)
        if current is not None and current[0] == frame["frame_id"]:
            yield frame, list(current[1])
            current = next(groups, None)
        else:
            yield frame, []


def export_stream(*, user: User, fmt: str, params: Mapping[str, Any]) -> Iterator[bytes]:
    """The bytes of an export of the labels `user` may see, filtered by `params`, in `fmt`."""
    spec = FORMATS[fmt]
    if fmt in ("csv", "jsonl") and pg_export.supported():
        stream = pg_export.csv_stream if fmt == "csv" else pg_export.jsonl_stream
        return stream(user, params, spec.label_types)
    if fmt == "csv":
        return write_csv(label_rows(user, params))
    if fmt == "jsonl":
        return write_jsonl(label_rows(user, params))
    if fmt == "manifest":
        return write_manifest(label_rows(user, params, ("frame_score",)), findings=consensus_findings(user, params))
    frame_ids = labelled_frame_ids(user, params, spec.label_types)
    frames = frame_refs(user, frame_ids)
    contours = label_rows(user, params, ("contour",), by_frame=True)
    findings = label_rows(user, params, ("video_finding",), by_frame=True)
    if fmt == "coco":
        return write_coco(frames, contours, categories=sorted(DEFAULT_CLASS_NAMES.items())[1:],
                          frame_scores=label_rows(user, params, ("frame_score",), by_frame=True),
                          video_findings=findings)
    if fmt == "labelme":
        return write_labelme_zip(_by_frame(frames, contours), class_names=DEFAULT_CLASS_NAMES,
                                 video_findings=findings)
    return write_masks_zip(
        ((frame, _group(rows, "annotator")) for frame, rows in _by_frame(frames, contours)),
        class_names=DEFAULT_CLASS_NAMES, video_findings=findings)


def _group(rows: list[LabelRow], key: Literal["annotator"]) -> dict[str, list[LabelRow]]:
    grouped: dict[str, list[LabelRow]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return dict(grouped)


def export_size(*, user: User, fmt: str, params: Mapping[str, Any]) -> int:
    """How many labels the export holds; InvalidInput ("bad filter", field errors) for bad filters."""
    spec = FORMATS[fmt]
    try:
        return label_count(user, params, spec.label_types)
    except ValueError as error:
        raise InvalidInput("bad filter", errors=error.args[0]) from error


def export_job_create(*, user: User, fmt: str, params: Mapping[str, Any]) -> ExportJob:
    job = ExportJob.objects.create(format=fmt, filters=dict(params), created_by=user)
    transaction.on_commit(lambda: enqueue_task(RUN_EXPORT_TASK, job.pk))
    return job


#: How often a running export job records the bytes written so far (its progress on the export page).
EXPORT_PROGRESS_INTERVAL_S = 1.0


def export_job_run(*, job_id: int) -> ExportJob:
    """Write the export to media storage (exports/<id>.<ext>), recording its size and, as it goes, the
    bytes written (what the export page shows while it runs)."""
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        job.rows = export_size(user=job.created_by, fmt=job.format, params=job.filters)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, rows=job.rows)
        with tempfile.TemporaryFile() as spool:
            written, reported = 0, time.monotonic()
            for chunk in export_stream(user=job.created_by, fmt=job.format, params=job.filters):
                spool.write(chunk)
                written += len(chunk)
                if time.monotonic() - reported >= EXPORT_PROGRESS_INTERVAL_S:
                    reported = time.monotonic()
                    ExportJob.objects.filter(pk=job.pk).update(bytes_written=written)
            spool.seek(0)
            job.file.save(f"exports/{job.pk}.{FORMATS[job.format].extension}", File(spool), save=False)
        job.status, job.finished_at, job.bytes_written = ExportStatus.SUCCEEDED, timezone.now(), written
    except Exception as error:  # the job records why; the worker log has the traceback
        job.status, job.error, job.finished_at = ExportStatus.FAILED, f"{type(error).__name__}: {error}", timezone.now()
    job.save()
    return job


IMPORT_FORMATS = ("labelme", "coco", "csv")


def zip_limits() -> ZipLimits:
    """What an uploaded ZIP may unpack to (settings PLEURA_ZIP_*), checked before anything is inflated."""
    return ZipLimits(max_members=settings.PLEURA_ZIP_MAX_MEMBERS, max_total_bytes=settings.PLEURA_ZIP_MAX_BYTES,
                     max_member_bytes=settings.PLEURA_ZIP_MAX_MEMBER_BYTES, max_ratio=settings.PLEURA_ZIP_MAX_RATIO)


def labelme_archive_extract(*, path: Path, folder: Path) -> Path:
    """Unpack the LabelMe JSON files of an uploaded ZIP into ``folder`` (the frames' PNGs an export carries
    are never inflated: the import reads only the JSON), within :func:`zip_limits`."""
    zip_extract(path, folder, limits=zip_limits(), select=lambda name: name.lower().endswith(".json"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def labels_import(*, user: User, fmt: str, path: Path) -> dict[str, int]:
    """Import labels from a LabelMe folder, a COCO file or a score CSV, each with its video findings (the
    LabelMe export's findings.json, COCO's video_findings, the CSV's finding rows): all or nothing.

    Annotators named in the file must exist; only admins may import labels of other people (others'
    files are imported as their own). Raises FormatError or LabelValidationError.
    """
    try:
        return _records_import(user=user, fmt=fmt, path=path)
    except LabelValidationError as error:
        raise LabelValidationError(error.errors, detail="invalid labels; nothing was imported") from error


@transaction.atomic
def _records_import(*, user: User, fmt: str, path: Path) -> dict[str, int]:
    contours: list[ContourRecord]
    scores: list[ScoreRecord]
    findings: list[FindingRecord] = []
    if fmt == "labelme":
        records = read_labelme_folder(path)
        contours, scores, findings = list(records), [], read_labelme_findings(path)
    elif fmt == "coco":
        parsed = read_coco(path)
        contours, scores, findings = list(parsed), list(parsed.scores), read_coco_findings(path)
    else:
        table = read_score_csv(path)
        contours, scores, findings = [], list(table), table.findings
    labels: list[ContourRecord | ScoreRecord] = [*contours, *scores]
    users = _annotators(user, [r.annotator for r in [*labels, *findings]])
    frames = _frames(user, [r.frame for r in labels if r.frame is not None])
    counts = {"frame_scores": 0, "video_scores": 0, "video_findings": 0, "contours": 0}
    per_video: dict[tuple[User, Any], list[dict]] = defaultdict(list)
    for position, record in enumerate(scores):
        owner = users[record.annotator]
        if record.frame is None:
            video = None if record.video_id is None else videos_visible_to(user).filter(pk=record.video_id).first()
            if video is None:
                raise LabelValidationError({f"scores[{position}]": [f"unknown video {record.video_id}"]})
            video_score_write(user=owner, video=video, score=record.score, overwrite=True)
            counts["video_scores"] += 1
            continue
        frame = frames[_key(record.frame)]
        per_video[(owner, frame.video)].append({"frame": frame.pk, "score": record.score, "version": None})
    for (owner, video), items in per_video.items():
        counts["frame_scores"] += len(frame_scores_write(user=owner, video=video, items=items, overwrite=True))
    counts["video_findings"] = _findings_import(user, users, findings)
    per_frame: dict[tuple[User, Frame], list[dict]] = defaultdict(list)
    for contour in contours:
        per_frame[(users[contour.annotator], frames[_key(contour.frame)])].append(
            {"segmentation_class": contour.class_id, "vertices": contour.vertices})
    for (owner, frame), new in per_frame.items():
        current = list(Contour.objects.filter(frame=frame, annotator=owner).select_related("segmentation_class"))
        frame_contours_write(user=owner, frame=frame, base=[{"id": c.pk, "version": c.version} for c in current],
                             contours=[{"id": c.pk, "segmentation_class": c.segmentation_class.index,
                                        "vertices": c.vertices} for c in current] + new)
        counts["contours"] += len(new)
    return counts


def _findings_import(user: User, users: Mapping[str | None, User], findings: list[FindingRecord]) -> int:
    """Write the findings of a table, one all-or-nothing write per annotator and video."""
    videos = {v.pk: v for v in videos_visible_to(user).filter(pk__in={r.video_id for r in findings})}
    missing = sorted({r.video_id for r in findings} - set(videos))
    if missing:
        raise LabelValidationError({"findings": [f"unknown video(s): {', '.join(map(str, missing[:20]))}"]})
    per_video: dict[tuple[User, int], list[dict]] = defaultdict(list)
    for record in findings:
        per_video[(users[record.annotator], record.video_id)].append(
            {"finding": record.finding, "present": record.present, "version": None})
    return sum(len(video_findings_write(user=owner, video=videos[video_id], items=items, overwrite=True))
               for (owner, video_id), items in per_video.items())


def _key(frame: FrameKey) -> tuple[int, ...]:
    """A FrameKey (frame id, or (video id, frame index)) as a dict key."""
    return (frame,) if isinstance(frame, int) else tuple(frame)


def _annotators(user: User, names: list[str | None]) -> dict[str | None, User]:
    wanted = {name for name in names if name}
    if not is_admin(user):
        return {name: user for name in [*wanted, None]}
    found: dict[str | None, User] = {u.username: u for u in User.objects.filter(username__in=wanted)}
    missing = sorted(wanted - set(found))
    if missing:
        raise LabelValidationError({"annotator": [f"unknown user(s): {', '.join(missing)}"]})
    return {**found, None: user}


def _frames(user: User, keys: list[FrameKey]) -> dict[tuple[int, ...], Frame]:
    """The visible frames the keys name; unknown or hidden frames are one validation error."""
    frames: dict[tuple[int, ...], Frame] = {}
    visible = frames_visible_to(user)
    for frame in visible.select_related("video").filter(id__in={k for k in keys if isinstance(k, int)}):
        frames[(frame.pk,)] = frame
    pairs = {tuple(k) for k in keys if not isinstance(k, int)}
    for video_id, index in pairs:
        match = visible.select_related("video").filter(video_id=video_id, index=index).first()
        if match is not None:
            frames[(video_id, index)] = match
    missing = sorted({_key(k) for k in keys} - set(frames))
    if missing:
        raise LabelValidationError({"frame": [f"unknown frame(s): {', '.join(map(str, missing[:20]))}"]})
    return frames


__all__ = ["FORMATS", "IMPORT_FORMATS", "FormatError", "export_job_create", "export_job_run", "export_size",
           "export_stream", "labels_import", "stream_limit"]
