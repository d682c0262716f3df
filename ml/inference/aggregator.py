"""Video scores from per-frame predictions: the uninorm aggregator (and the ``max_argmax`` / ``argmax_mean``
baselines).

    videos = predict_videos(frames, aggregator=load_aggregator("runs/agg/aggregator.pt"))

One row per video: ``{"video", "patient", "n_frames", "score", "max_argmax", "argmax_mean"}`` and, with an
aggregator, ``"probs"`` (softmax of the uninorm aggregates) and ``"pred"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch

from ml.aggregation import OffDiagonal, TNorm, UninormAggregator, argmax_mean, max_argmax
from ml.data import group_predictions

__all__ = ["load_aggregator", "predict_videos"]


def load_aggregator(path: str | Path) -> UninormAggregator:
    """Load an ``aggregator.pt`` written by :func:`ml.training.train_aggregator` (eval mode)."""
    from ml.training.aggregator import AggregatorTrainConfig  # lazily: ml.training imports ml.inference

    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    cfg = AggregatorTrainConfig.from_dict(blob["config"])
    model = UninormAggregator(cfg.num_classes, tnorm=cast(TNorm, cfg.tnorm),
                              off_diagonal=cast(OffDiagonal, cfg.off_diagonal))
    model.load_state_dict(blob["state_dict"])
    return model.eval()


def predict_videos(
    frame_predictions: Sequence[Mapping[str, Any]],
    *,
    aggregator: UninormAggregator | None = None,
    video_labels: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Aggregate frame predictions per video.

    Returns:
        One dict per video (sorted by id): ``video``, ``patient``, ``n_frames``, ``score`` (from
        ``video_labels``, else the max frame score when every frame is labelled, else ``None``),
        ``max_argmax``, ``argmax_mean`` and, with an aggregator, ``probs`` / ``pred`` (uninorm).
    """
    grouped = group_predictions(frame_predictions)
    patients: dict[str, str] = {}
    scores: dict[str, list[int | None]] = {}
    for r in frame_predictions:
        v = str(r["video"])
        patients.setdefault(v, str(r.get("patient", "")))
        scores.setdefault(v, []).append(r.get("score"))
    out = []
    for video in sorted(grouped):
        probs = grouped[video].unsqueeze(0)
        s = scores[video]
        if video_labels is not None and video in video_labels:
            label = int(video_labels[video])
        elif s and all(v is not None for v in s):
            label = max(int(v) for v in s)  # type: ignore[arg-type]
        else:
            label = None
        row: dict[str, Any] = {
            "video": video,
            "patient": patients[video],
            "n_frames": int(probs.shape[1]),
            "score": label,
            "max_argmax": int(max_argmax(probs)[0]),
            "argmax_mean": int(argmax_mean(probs)[0]),
        }
        if aggregator is not None:
            with torch.no_grad():
                agg = aggregator(probs.clamp(0, 1))
                row["probs"] = [round(float(p), 6) for p in torch.softmax(agg.float(), dim=1)[0]]
                row["pred"] = int(aggregator.predict(probs.clamp(0, 1))[0])
        out.append(row)
    return out
