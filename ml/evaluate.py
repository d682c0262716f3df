"""Evaluation of frame predictions against a manifest: frame F1, the paper's Setting 2, video metrics.

Programmatic API::

    result = evaluate_predictions(predictions, rows, setting2_k=(1, 3, 5, 7), aggregator=agg)
    result.metrics      # nested dict (JSON-ready)
    result.confusions   # {"frame": (C, C), "video_uninorm": ..., "video_max_argmax": ..., ...}

CLI::

    python -m ml.evaluate --predictions P.jsonl --manifest M --out DIR [--setting2-k 1 3 5 7]
        [--aggregator aggregator.pt] [--video-labels L.csv --video-column video --score-column score]

* Frame metrics: weighted and macro F1, accuracy over the labelled frames (truth from the manifest).
* Setting 2 (paper §V): for each ``k``, frames within ``k`` frames of a score change in their video's
  annotation are left out (:func:`ml.metrics.setting2_keep_mask`); F1 on the rest.
* Video metrics: weighted F1 / precision / recall / accuracy for ``max_argmax``, ``argmax_mean`` and (with
  an aggregator) the learned uninorm. A video's true score comes from ``--video-labels`` when given, else it
  is the maximum of its frames' scores.

Writes ``DIR/metrics.json`` + PNGs (via :func:`ml.metrics.write_report`), ``DIR/confusions.json``,
``DIR/video_predictions.jsonl`` and prints a short table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.aggregation import UninormAggregator
from ml.data import ManifestRow, read_manifest
from ml.scores import NUM_SCORES

__all__ = ["EvaluationResult", "build_parser", "evaluate_predictions", "main", "plot_confusions"]


@dataclass
class EvaluationResult:
    """``metrics`` (nested, JSON-ready), ``confusions`` (name -> ``(C, C)`` array, rows = truth) and the
    per-video predictions."""

    metrics: dict[str, Any]
    confusions: dict[str, np.ndarray]
    videos: list[dict[str, Any]] = field(default_factory=list)


def _frame_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from ml.metrics import frame_f1

    if len(y_true) == 0:
        return {"n": 0, "f1_weighted": float("nan"), "f1_macro": float("nan"), "accuracy": float("nan")}
    return {
        "n": len(y_true),
        "f1_weighted": float(frame_f1(y_true, y_pred, average="weighted")),
        "f1_macro": float(frame_f1(y_true, y_pred, average="macro")),
        "accuracy": float(np.mean(y_true == y_pred)),
    }


def _frame_order(row: ManifestRow, position: int) -> tuple[float, int]:
    return (float(row.frame) if row.frame is not None else float(position), position)


def evaluate_predictions(
    predictions: Sequence[Mapping[str, Any]],
    rows: Sequence[ManifestRow],
    *,
    setting2_k: Sequence[int] = (1, 3, 5, 7),
    aggregator: UninormAggregator | None = None,
    video_labels: Mapping[str, int] | None = None,
    num_classes: int = NUM_SCORES,
) -> EvaluationResult:
    """Score per-frame predictions (``ml.predict`` rows) against manifest rows.

    Predictions are matched to rows by ``key`` (``ManifestRow.key``). Rows without a score are ignored for
    frame metrics.

    Raises:
        ValueError: if a labelled manifest row has no prediction, or no row has a label.
    """
    from ml.inference import predict_videos
    from ml.metrics import confusion_matrix, setting2_keep_mask, video_metrics

    by_key = {str(p["key"]): p for p in predictions if "key" in p}
    labelled = [r for r in rows if r.score is not None]
    if not labelled:
        raise ValueError("the manifest has no labelled rows")
    missing = [r.key for r in labelled if r.key not in by_key]
    if missing:
        raise ValueError(f"{len(missing)} labelled manifest row(s) have no prediction, e.g. {missing[0]}")
    y_true = np.array([r.score for r in labelled], dtype=np.int64)
    y_pred = np.array([int(np.argmax(by_key[r.key]["probs"])) for r in labelled], dtype=np.int64)
    metrics: dict[str, Any] = {"frame": _frame_scores(y_true, y_pred)}
    confusions: dict[str, np.ndarray] = {
        "frame": np.asarray(confusion_matrix(y_true, y_pred, num_classes=num_classes))
    }

    # Setting 2: drop frames near score transitions, per video (frames in temporal order)
    per_video: dict[str, list[tuple[tuple[float, int], int, int]]] = defaultdict(list)
    for pos, (r, t, p) in enumerate(zip(labelled, y_true, y_pred, strict=True)):
        per_video[r.video].append((_frame_order(r, pos), int(t), int(p)))
    setting2: dict[str, Any] = {}
    for k in setting2_k:
        kt, kp = [], []
        for items in per_video.values():
            items.sort()
            scores = np.array([t for _, t, _ in items], dtype=np.int64)
            keep = np.asarray(setting2_keep_mask(scores, int(k)), dtype=bool)
            kt.extend(scores[keep].tolist())
            kp.extend(np.array([p for _, _, p in items])[keep].tolist())
        setting2[str(k)] = _frame_scores(np.array(kt, dtype=np.int64), np.array(kp, dtype=np.int64))
    metrics["setting2"] = setting2

    # video level
    rows_by_key = {r.key: r for r in rows}
    frame_preds = []
    for key, p in by_key.items():
        row = rows_by_key.get(key)
        if row is None:
            continue
        frame_preds.append(
            {"video": row.video, "patient": row.patient, "frame": row.frame, "score": row.score, "probs": p["probs"]}
        )
    videos = predict_videos(frame_preds, aggregator=aggregator, video_labels=video_labels)
    scored = [v for v in videos if v["score"] is not None]
    video_block: dict[str, Any] = {"n": len(scored)}
    if scored:
        vt = np.array([v["score"] for v in scored], dtype=np.int64)
        methods = ["max_argmax", "argmax_mean"] + (["uninorm"] if aggregator is not None else [])
        for m in methods:
            vp = np.array([v["pred" if m == "uninorm" else m] for v in scored], dtype=np.int64)
            video_block[m] = {k: float(v) for k, v in dict(video_metrics(vt, vp)).items()}
            confusions[f"video_{m}"] = np.asarray(confusion_matrix(vt, vp, num_classes=num_classes))
    metrics["video"] = video_block
    return EvaluationResult(metrics=metrics, confusions=confusions, videos=videos)


def plot_confusions(path: str | Path, confusions: Mapping[str, np.ndarray]) -> Path:
    """One PNG with a row-normalised heat map per confusion matrix (counts annotated)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(confusions)
    fig = Figure(figsize=(3.6 * max(1, len(names)), 3.6), dpi=110)
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        counts = np.asarray(confusions[name])
        rows = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for r in range(counts.shape[0]):
            for c in range(counts.shape[1]):
                ax.text(c, r, str(int(counts[r, c])), ha="center", va="center",
                        color="white" if share[r, c] > 0.5 else "black", fontsize=8)  # fmt: skip
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(counts.shape[1]))
        ax.set_yticks(range(counts.shape[0]))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def _print_table(metrics: Mapping[str, Any]) -> None:
    f = metrics["frame"]
    print(f"frames: n={f['n']}  F1 weighted={f['f1_weighted']:.3f}  F1 macro={f['f1_macro']:.3f}")
    for k, s in metrics["setting2"].items():
        print(
            f"  setting 2, k={k}: n={s['n']}  F1 weighted={s['f1_weighted']:.3f}  F1 macro={s['f1_macro']:.3f}"
        )
    v = metrics["video"]
    print(f"videos: n={v['n']}")
    for m in ("uninorm", "max_argmax", "argmax_mean"):
        if m in v:
            print(
                f"  {m:<12} F1 weighted={v[m]['f1']:.3f}  accuracy={v[m]['accuracy']:.3f}"
                if "f1" in v[m]
                else f"  {m}: {v[m]}"
            )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.evaluate", description="Evaluate frame predictions.")
    p.add_argument("--predictions", required=True, type=Path)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--setting2-k", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--aggregator", type=Path)
    p.add_argument("--video-labels", type=Path, help="CSV of video scores (default: max frame score)")
    p.add_argument("--video-column", default="video")
    p.add_argument("--score-column", default="score")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    from ml.data import load_video_labels, read_predictions, write_jsonl
    from ml.inference import load_aggregator
    from ml.metrics import write_report

    args = build_parser().parse_args(argv)
    predictions = read_predictions(args.predictions)
    rows = read_manifest(args.manifest)
    aggregator = load_aggregator(args.aggregator) if args.aggregator else None
    labels = (
        load_video_labels(args.video_labels, video_column=args.video_column, score_column=args.score_column)
        if args.video_labels
        else None
    )
    with torch.no_grad():
        result = evaluate_predictions(
            predictions, rows, setting2_k=args.setting2_k, aggregator=aggregator, video_labels=labels
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out, metrics=result.metrics, confusion=result.confusions["frame"])
    plot_confusions(args.out / "confusions.png", result.confusions)
    (args.out / "confusions.json").write_text(
        json.dumps({k: v.tolist() for k, v in result.confusions.items()}, indent=2)
    )
    write_jsonl(args.out / "video_predictions.jsonl", result.videos)
    _print_table(result.metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
