"""The files the CLIs pass each other: per-frame predictions (JSON Lines, as ``python -m ml.predict`` writes
them) and video labels (CSV with a video and a score column).

* :func:`read_predictions` / :func:`write_jsonl` read and write JSON Lines;
* :func:`group_predictions` turns prediction rows into one ``(T, C)`` probability tensor per video;
* :func:`load_annotator_labels` reads ``{video: {annotator: score}}`` (Setting 3) from a CSV, and
  :func:`annotator_video_scores` derives it from manifest rows with an ``annotator``;
* :func:`load_video_labels` reads ``{video: score}``; :func:`video_labels_from_predictions` takes them from the
  prediction rows themselves (``video_score``, as ``ml.predict --video-labels`` attaches it, else the frames'
  ``score`` when every frame of the video has one).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "annotator_video_scores",
    "group_predictions",
    "load_annotator_labels",
    "load_video_labels",
    "read_predictions",
    "video_labels_from_predictions",
    "write_jsonl",
]


def group_predictions(predictions: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Group per-frame prediction rows (``video``, ``frame`` or ``key``, ``probs``) into ``{video: (T, C)}``,
    frames sorted by index (rows without ``frame`` keep file order).

    Raises:
        ValueError: if a row lacks ``video`` / ``probs`` or videos have inconsistent class counts.
    """
    grouped: dict[str, list[tuple[float, int, list[float]]]] = defaultdict(list)
    for i, row in enumerate(predictions):
        if "video" not in row or "probs" not in row:
            raise ValueError(f"prediction row {i} needs 'video' and 'probs'")
        frame = row.get("frame")
        grouped[str(row["video"])].append(
            (float(frame) if frame is not None else float(i), i, list(row["probs"]))
        )
    out: dict[str, torch.Tensor] = {}
    width = None
    for video, items in grouped.items():
        items.sort()
        t = torch.tensor([p for _, _, p in items], dtype=torch.float32)
        if width is None:
            width = t.shape[1]
        if t.ndim != 2 or t.shape[1] != width:
            raise ValueError(f"video {video!r}: inconsistent probability vectors")
        out[video] = t
    return out


def load_video_labels(
    path: str | Path, *, video_column: str = "video", score_column: str = "score"
) -> dict[str, int]:
    """Read ``{video: score}`` from a CSV (scores rounded to int; blank scores skipped).

    Raises:
        ValueError: if a column is missing or a score is not a number.
    """
    path = Path(path)
    out: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for c in (video_column, score_column):
            if c not in cols:
                raise ValueError(f"{path}: missing column {c!r} (have {cols})")
        for row in reader:
            v, s = row[video_column].strip(), row[score_column].strip()
            if not s:
                continue
            try:
                out[v] = round(float(s))
            except ValueError:
                raise ValueError(f"{path}:{reader.line_num}: score {s!r} is not a number") from None
    return out


def load_annotator_labels(
    path: str | Path, *, video_column: str = "video", annotator_column: str = "annotator", score_column: str = "score"
) -> dict[str, dict[str, int]]:
    """Read each annotator's video scores, ``{video: {annotator: score}}``, from a long CSV (one row per video
    and annotator; blank scores skipped). With a ``label_type`` column (the platform's CSV export) only its
    ``video_score`` rows are read.

    Raises:
        ValueError: if a column is missing or a score is not a number.
    """
    path = Path(path)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for c in (video_column, annotator_column, score_column):
            if c not in cols:
                raise ValueError(f"{path}: missing column {c!r} (have {cols})")
        for row in reader:
            if "label_type" in cols and row["label_type"] != "video_score":
                continue
            s = (row[score_column] or "").strip()
            if not s:
                continue
            try:
                out[row[video_column].strip()][row[annotator_column].strip()] = round(float(s))
            except ValueError:
                raise ValueError(f"{path}:{reader.line_num}: score {s!r} is not a number") from None
    return dict(out)


def annotator_video_scores(rows: Sequence[Any]) -> dict[str, dict[str, int]]:
    """``{video: {annotator: max frame score}}`` over manifest rows (:class:`ml.data.ManifestRow`) that have
    both an ``annotator`` and a ``score``."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r.annotator is not None and r.score is not None:
            scores = out[r.video]
            scores[r.annotator] = max(scores.get(r.annotator, r.score), r.score)
    return dict(out)


def video_labels_from_predictions(predictions: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """``{video: score}`` from prediction rows: a row's ``video_score`` (video rows: ``score``) when given, else
    the maximum frame ``score`` of videos whose every frame has one; videos with neither are left out."""
    attached: dict[str, int] = {}
    frames: dict[str, list[Any]] = defaultdict(list)
    for row in predictions:
        if "video" not in row:
            continue
        video = str(row["video"])
        label = row.get("video_score") if "key" in row else row.get("score", row.get("video_score"))
        if label is not None:
            attached[video] = int(label)
        if "key" in row:
            frames[video].append(row.get("score"))
    out = {v: max(int(s) for s in scores) for v, scores in frames.items()
           if scores and all(s is not None for s in scores)}
    out.update(attached)
    return out


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines predictions file.

    Raises:
        ValueError: on invalid JSON (message names the line).
    """
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
    return rows


def write_jsonl(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write dicts as JSON Lines (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path
