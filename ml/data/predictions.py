"""The files the CLIs pass each other: per-frame predictions (JSON Lines, as ``python -m ml.predict`` writes
them) and video labels (CSV with a video and a score column).

* :func:`read_predictions` / :func:`write_jsonl` read and write JSON Lines;
* :func:`group_predictions` turns prediction rows into one ``(T, C)`` probability tensor per video;
* :func:`load_video_labels` reads ``{video: score}``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["group_predictions", "load_video_labels", "read_predictions", "write_jsonl"]


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
