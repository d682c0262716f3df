"""Evaluation of predictions against a manifest: frame F1, the paper's Settings 2 and 3, video metrics.

Programmatic API::

    result = evaluate_predictions(predictions, rows, setting2_k=(1, 3, 5, 7), aggregator=agg)
    result.metrics      # nested dict (JSON-ready)
    result.confusions   # {"frame": (C, C), "video_uninorm": ..., "video_max_argmax": ..., ...}

CLI::

    python -m ml.evaluate --predictions P.jsonl --manifest M --out DIR [--setting2-k 1 3 5 7]
        [--aggregator aggregator.pt] [--video-labels L.csv --video-column video --score-column score]
        [--video-predictions P.videos.jsonl] [--annotator-labels A.csv] [--setting3-min-agree 2 3] [--threads N]

* Frame metrics: weighted and macro F1, accuracy and quadratic-weighted kappa over the labelled frames (truth
  from the manifest).
* Setting 2 (paper §V): for each ``k``, frames within ``k`` frames of a score change in their video's
  annotation are left out (:func:`ml.metrics.setting2_keep_mask`); F1 on the rest. When no video's frame scores
  change (labels given per video, as in COVID-BLUeS) every ``k`` keeps every frame: Setting 2 is skipped, said once.
* Video metrics: weighted F1 (the paper's figure) / precision / recall, macro F1, accuracy and
  quadratic-weighted kappa for
  ``max_argmax``, ``argmax_mean``, (with an aggregator) the learned ``uninorm`` and (with video predictions)
  ``model``: the ``pred`` of each row of a video-predictions file (``ml.predict``'s ``<out>.videos.jsonl``).
  Per-video models (CNN-LSTMs such as ``xception_lstm``) have video predictions only: they are scored from them
  (the default ``<predictions>.videos.jsonl`` is used when the predictions hold no frame rows). A video's true
  score comes from ``--video-labels``, else from the predictions (``video_score`` attached by
  ``ml.predict --video-labels``), else it is the maximum of its frames' scores.
* Setting 3 (paper §V): videos on which at least ``m`` annotators gave the same score
  (:func:`ml.metrics.setting3_keep_videos`), for each ``m`` of ``--setting3-min-agree`` (default: 2 up to the
  number of annotators). Each annotator's video scores come from ``--annotator-labels`` (long CSV: video,
  annotator, score; the platform's CSV export works) or from the manifest's ``annotator`` column (max frame score).

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
from ml.data import ManifestRow, read_manifest, video_labels_from_predictions
from ml.scores import NUM_SCORES
from ml.utils import run_cli

__all__ = ["EvaluationResult", "build_parser", "evaluate_predictions", "main", "plot_confusions"]

SETTING2_FLAT = "no video's frame scores change, as with per-video labels: every k would keep every frame"
SETTING3_NEEDS = "needs video scores from two or more annotators (--annotator-labels, or a manifest with annotator)"


@dataclass
class EvaluationResult:
    """``metrics`` (nested, JSON-ready), ``confusions`` (name -> ``(C, C)`` array, rows = truth) and the
    per-video predictions."""

    metrics: dict[str, Any]
    confusions: dict[str, np.ndarray]
    videos: list[dict[str, Any]] = field(default_factory=list)


def _scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, Any]:
    """F1 (weighted, macro), accuracy and quadratic-weighted kappa (``None`` when undefined)."""
    from ml.agreement import cohen_kappa
    from ml.metrics import frame_f1

    if len(y_true) == 0:
        return {"n": 0, "f1_weighted": None, "f1_macro": None, "accuracy": None, "kappa_quadratic": None}
    return {
        "n": len(y_true),
        "f1_weighted": float(frame_f1(y_true, y_pred, average="weighted")),
        "f1_macro": float(frame_f1(y_true, y_pred, average="macro")),
        "accuracy": float(np.mean(y_true == y_pred)),
        "kappa_quadratic": cohen_kappa(y_true, y_pred, weights="quadratic", categories=num_classes),
    }


def _video_scores(truth: Mapping[str, int], preds: Mapping[str, int], num_classes: int) -> tuple[dict, np.ndarray]:
    """Video metrics of one method over the videos with a true score: ``(metrics, confusion)``."""
    from ml.metrics import confusion_matrix, video_metrics

    videos = [v for v in sorted(preds) if v in truth]
    vt = np.array([truth[v] for v in videos], dtype=np.int64)
    vp = np.array([preds[v] for v in videos], dtype=np.int64)
    block = _scores(vt, vp, num_classes)
    if videos:
        weighted = video_metrics(vt, vp)  # its "f1" is block["f1_weighted"], the paper's figure
        block.update(precision=weighted["precision"], recall=weighted["recall"])
    return block, np.asarray(confusion_matrix(vt, vp, num_classes=num_classes))


def _frame_order(row: ManifestRow, position: int) -> tuple[float, int]:
    index = row.frame if row.frame is not None else row.extra.get("frame_index")
    return (float(index) if isinstance(index, int | float) else float(position), position)


def _setting2(labelled: Sequence[ManifestRow], y_true: np.ndarray, y_pred: np.ndarray, ks: Sequence[int],
              num_classes: int) -> tuple[dict[str, Any], str | None]:
    """``({str(k): frame scores}, None)``, or ``({}, reason)`` when no video's frame scores change."""
    from ml.metrics import setting2_keep_mask

    per_video: dict[str, list[tuple[tuple[float, int], int, int]]] = defaultdict(list)
    for pos, (r, t, p) in enumerate(zip(labelled, y_true, y_pred, strict=True)):
        per_video[r.video].append((_frame_order(r, pos), int(t), int(p)))
    if all(len({t for _, t, _ in items}) < 2 for items in per_video.values()):
        return {}, SETTING2_FLAT
    out: dict[str, Any] = {}
    for k in ks:
        kt, kp = [], []
        for items in per_video.values():
            items.sort()
            scores = np.array([t for _, t, _ in items], dtype=np.int64)
            keep = np.asarray(setting2_keep_mask(scores, int(k)), dtype=bool)
            kt.extend(scores[keep].tolist())
            kp.extend(np.array([p for _, _, p in items])[keep].tolist())
        out[str(k)] = _scores(np.array(kt, dtype=np.int64), np.array(kp, dtype=np.int64), num_classes)
    return out, None


def _setting3(annotator_scores: Mapping[str, Mapping[str, int]], truth: Mapping[str, int],
              methods: Mapping[str, Mapping[str, int]], min_agree: Sequence[int] | None,
              num_classes: int) -> tuple[dict[str, Any], str | None]:
    """``({str(m): {"videos_kept", method: video scores}}, None)``, or ``({}, reason)`` without two annotators.

    Raises:
        ValueError: if an ``m`` lies outside ``[1, number of annotators]``.
    """
    from ml.metrics import setting3_keep_videos

    annotators = sorted({a for scores in annotator_scores.values() for a in scores})
    if len(annotators) < 2:
        return {}, SETTING3_NEEDS
    videos = sorted(annotator_scores)
    table = np.full((len(videos), len(annotators)), np.nan)
    for i, v in enumerate(videos):
        for j, a in enumerate(annotators):
            if a in annotator_scores[v]:
                table[i, j] = annotator_scores[v][a]
    out: dict[str, Any] = {}
    for m in (min_agree or range(2, len(annotators) + 1)):
        kept = {v for v, keep in zip(videos, setting3_keep_videos(table, int(m)), strict=True) if keep}
        block: dict[str, Any] = {"videos_kept": len(kept)}
        for name, preds in methods.items():
            block[name] = _video_scores(truth, {v: p for v, p in preds.items() if v in kept}, num_classes)[0]
        out[str(m)] = block
    return out, None


def _video_truth(rows: Sequence[ManifestRow], predictions: Sequence[Mapping[str, Any]],
                 video_labels: Mapping[str, int] | None) -> dict[str, int]:
    """Labels CSV > labels the predictions carry > max frame score of fully labelled manifest videos."""
    frames: dict[str, list[int | None]] = defaultdict(list)
    for r in rows:
        frames[r.video].append(r.score)
    truth = {v: max(s for s in scores if s is not None) for v, scores in frames.items()
             if scores and all(s is not None for s in scores)}
    truth.update(video_labels_from_predictions(predictions))
    truth.update(video_labels or {})
    return truth


def evaluate_predictions(
    predictions: Sequence[Mapping[str, Any]],
    rows: Sequence[ManifestRow],
    *,
    setting2_k: Sequence[int] = (1, 3, 5, 7),
    aggregator: UninormAggregator | None = None,
    video_labels: Mapping[str, int] | None = None,
    num_classes: int = NUM_SCORES,
    video_predictions: Sequence[Mapping[str, Any]] | None = None,
    annotator_scores: Mapping[str, Mapping[str, int]] | None = None,
    setting3_min_agree: Sequence[int] | None = None,
) -> EvaluationResult:
    """Score per-frame predictions (``ml.predict`` rows) and/or video predictions against manifest rows.

    Frame predictions (rows with ``key``) are matched to rows by ``ManifestRow.key``; rows without a score are
    ignored for frame metrics. Video predictions (``video_predictions``, and rows of ``predictions`` without
    ``key``) are scored as the method ``model`` by their ``pred`` (else the argmax of ``probs``).

    Raises:
        ValueError: if a labelled manifest row has no frame prediction (when there are frame predictions), the
            manifest has no label, there is neither a frame nor a video prediction, or a Setting-3 ``m`` is
            out of range.
    """
    from ml.inference import predict_videos

    frame_preds = [p for p in predictions if "key" in p]
    video_rows = [p for p in [*(video_predictions or []), *predictions]
                  if "key" not in p and "video" in p and ("pred" in p or "probs" in p)]
    if not frame_preds and not video_rows:
        raise ValueError("no frame prediction (row with 'key') and no video prediction to evaluate")
    labelled = [r for r in rows if r.score is not None]
    truth = _video_truth(rows, [*frame_preds, *video_rows], video_labels)
    if not labelled and not truth:
        raise ValueError("the manifest has no labelled rows")
    metrics: dict[str, Any] = {}
    confusions: dict[str, np.ndarray] = {}
    methods: dict[str, dict[str, int]] = {}
    videos: list[dict[str, Any]] = []
    if frame_preds:
        from ml.metrics import confusion_matrix

        by_key = {str(p["key"]): p for p in frame_preds}
        missing = [r.key for r in labelled if r.key not in by_key]
        if missing:
            raise ValueError(f"{len(missing)} labelled manifest row(s) have no prediction, e.g. {missing[0]}")
        y_true = np.array([r.score for r in labelled], dtype=np.int64)
        y_pred = np.array([int(np.argmax(by_key[r.key]["probs"])) for r in labelled], dtype=np.int64)
        metrics["frame"] = _scores(y_true, y_pred, num_classes)
        confusions["frame"] = np.asarray(confusion_matrix(y_true, y_pred, num_classes=num_classes))
        metrics["setting2"], skipped = _setting2(labelled, y_true, y_pred, setting2_k, num_classes)
        if skipped:
            metrics["setting2_skipped"] = skipped
        rows_by_key = {r.key: r for r in rows}
        matched = [(rows_by_key[k], p) for k, p in by_key.items() if k in rows_by_key]
        videos = predict_videos([{"video": r.video, "patient": r.patient, "frame": r.frame, "score": r.score,
                                  "probs": p["probs"]} for r, p in matched], aggregator=aggregator, video_labels=truth)
        for m in ["max_argmax", "argmax_mean"] + (["uninorm"] if aggregator is not None else []):
            methods[m] = {v["video"]: int(v["pred" if m == "uninorm" else m]) for v in videos}
    else:
        metrics["frame"] = {"n": 0}
        metrics["setting2"], metrics["setting2_skipped"] = {}, "no per-frame predictions"
    if video_rows:
        methods["model"] = {str(v["video"]): int(v["pred"]) if "pred" in v else int(np.argmax(v["probs"]))
                            for v in video_rows}
        by_video = {v["video"]: v for v in videos}
        for v in video_rows:
            row = by_video.setdefault(str(v["video"]), {"video": str(v["video"]), "patient": v.get("patient"),
                                                        "score": truth.get(str(v["video"]))})
            row["model"] = methods["model"][str(v["video"])]
        videos = [by_video[v] for v in sorted(by_video)]
    video_block: dict[str, Any] = {"n": 0}
    for m, preds in methods.items():
        video_block[m], confusions[f"video_{m}"] = _video_scores(truth, preds, num_classes)
        video_block["n"] = max(video_block["n"], video_block[m]["n"])
    metrics["video"] = video_block
    metrics["setting3"], skipped = _setting3(annotator_scores or {}, truth, methods, setting3_min_agree, num_classes)
    if skipped:
        metrics["setting3_skipped"] = skipped
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


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _line(block: Mapping[str, Any]) -> str:
    return (f"n={block['n']}  F1 weighted={_fmt(block.get('f1_weighted'))}  F1 macro={_fmt(block.get('f1_macro'))}  "
            f"kappa (quadratic)={_fmt(block.get('kappa_quadratic'))}  accuracy={_fmt(block.get('accuracy'))}")


def _print_table(metrics: Mapping[str, Any], *, setting3_asked: bool = False) -> None:
    if metrics["frame"]["n"]:
        print(f"frames: {_line(metrics['frame'])}")
    if "setting2_skipped" in metrics:
        print(f"  setting 2: skipped ({metrics['setting2_skipped']})")
    for k, s in metrics["setting2"].items():
        print(f"  setting 2, k={k}: {_line(s)}")
    v = metrics["video"]
    print(f"videos: n={v['n']}")
    for m in ("uninorm", "model", "max_argmax", "argmax_mean"):
        if m in v:
            print(f"  {m:<12} {_line(v[m])}")
    if metrics["setting3"] or setting3_asked:
        if "setting3_skipped" in metrics:
            print(f"  setting 3: skipped ({metrics['setting3_skipped']})")
        for m, block in metrics["setting3"].items():
            print(f"  setting 3, >= {m} annotators agree: {block['videos_kept']} videos")
            for name, scores in block.items():
                if name != "videos_kept":
                    print(f"    {name:<12} {_line(scores)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.evaluate", description="Evaluate frame and video predictions.")
    p.add_argument("--predictions", required=True, type=Path, help="predictions of `python -m ml.predict`")
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--setting2-k", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--aggregator", type=Path)
    p.add_argument("--video-predictions", type=Path,
                   help="video predictions (`ml.predict`'s <out>.videos.jsonl), scored as method 'model' (default "
                        "when the predictions hold no frame rows: <predictions>.videos.jsonl)")
    p.add_argument("--video-labels", type=Path, help="CSV of video scores (default: the predictions' video_score, "
                   "else the max frame score)")
    p.add_argument("--video-column", default="video")
    p.add_argument("--score-column", default="score")
    p.add_argument("--annotator-labels", type=Path,
                   help="Setting 3: CSV of each annotator's video scores (video, annotator, score columns)")
    p.add_argument("--annotator-column", default="annotator")
    p.add_argument("--setting3-min-agree", type=int, nargs="+",
                   help="Setting 3: annotators that must agree (default: 2 up to the number of annotators)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    return p


def _video_predictions_path(args: argparse.Namespace, predictions: Sequence[Mapping[str, Any]]) -> Path | None:
    if args.video_predictions is not None:
        return args.video_predictions
    default = args.predictions.with_name(args.predictions.stem + ".videos.jsonl")
    return default if not any("key" in p for p in predictions) and default.is_file() else None


def _run(args: argparse.Namespace) -> int:
    from ml.data import (
        annotator_video_scores,
        load_annotator_labels,
        load_video_labels,
        read_predictions,
        write_jsonl,
    )
    from ml.inference import load_aggregator
    from ml.metrics import write_report
    from ml.utils import set_threads

    set_threads(args.threads)
    predictions = read_predictions(args.predictions)
    video_path = _video_predictions_path(args, predictions)
    video_predictions = read_predictions(video_path) if video_path is not None else None
    rows = read_manifest(args.manifest)
    aggregator = load_aggregator(args.aggregator) if args.aggregator else None
    labels = (load_video_labels(args.video_labels, video_column=args.video_column, score_column=args.score_column)
              if args.video_labels else None)
    annotators = (load_annotator_labels(args.annotator_labels, video_column=args.video_column,
                                        annotator_column=args.annotator_column, score_column=args.score_column)
                  if args.annotator_labels else annotator_video_scores(rows))
    with torch.no_grad():
        result = evaluate_predictions(predictions, rows, setting2_k=args.setting2_k, aggregator=aggregator,
                                      video_labels=labels, video_predictions=video_predictions,
                                      annotator_scores=annotators, setting3_min_agree=args.setting3_min_agree)
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out, metrics=result.metrics, confusion=result.confusions.get("frame"))
    plot_confusions(args.out / "confusions.png", result.confusions)
    (args.out / "confusions.json").write_text(
        json.dumps({k: v.tolist() for k, v in result.confusions.items()}, indent=2)
    )
    write_jsonl(args.out / "video_predictions.jsonl", result.videos)
    if video_path is not None:
        print(f"video predictions: {video_path}")
    _print_table(result.metrics, setting3_asked=bool(args.annotator_labels or args.setting3_min_agree))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 with a one-line message on bad input)."""
    args = build_parser().parse_args(argv)
    return run_cli("python -m ml.evaluate", lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
