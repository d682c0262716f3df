"""Score frames and videos with a trained model of any kind (the command line of :mod:`ml.inference`).

CLI::

    python -m ml.predict --checkpoint C --manifest M --out preds.jsonl [--aggregator A] [--video-out V]
        [--video-labels L.csv [--video-column video] [--score-column score]] [--threads N]

For a frame scorer each line of ``preds.jsonl`` is one frame (see :mod:`ml.inference.frame`); with
``--aggregator`` a second file (default ``<out>.videos.jsonl``) holds one line per video (see
:mod:`ml.inference.aggregator`).

Segmentation ensembles and sequence models (CNN-LSTMs; the checkpoint's model says which) load the same way:
for a segmentation checkpoint ``--out`` is a folder that receives ``<n>_mask.png`` (class ids) and
``<n>_uncertainty.png`` (MC-dropout std, 255 = 0.5) per row and ``segmentations.jsonl`` naming them; for a
sequence model ``--out`` gets the frame predictions of per-frame models and ``--video-out`` the video scores.

``--video-labels`` attaches the videos' true scores to the output (``video_score`` on every frame row, ``score``
on every video row), so that ``python -m ml.train aggregator`` and ``python -m ml.evaluate`` find them there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
from torch import nn

from ml.data import ManifestRow, VideoFrameCache, load_video_labels, read_image, read_manifest, write_jsonl
from ml.inference import (
    load_aggregator,
    load_frame_scorer,
    predict_frames,
    predict_sequence_rows,
    predict_videos,
    segment_images,
    uncertainty_to_uint8,
)
from ml.models import get_model_spec
from ml.utils import run_cli, set_threads

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.predict", description="Score frames with a trained model.")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="per-frame predictions (JSON Lines)")
    p.add_argument("--aggregator", type=Path, help="aggregator.pt from `python -m ml.train aggregator`")
    p.add_argument("--video-out", type=Path, help="video predictions (default: <out>.videos.jsonl)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--mc-samples", type=int, help="segmentation: MC-dropout samples (default: the checkpoint's)")
    p.add_argument("--video-labels", type=Path, help="CSV of video scores to attach to the predictions")
    p.add_argument("--video-column", default="video", help="video id column of --video-labels (default: %(default)s)")
    p.add_argument("--score-column", default="score", help="score column of --video-labels (default: %(default)s)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--quiet", action="store_true")
    return p


def _attach_labels(frames: list[dict[str, Any]], videos: list[dict[str, Any]],
                   labels: dict[str, int] | None) -> None:
    """``video_score`` on frame rows and ``score`` on video rows, from ``labels`` (in place)."""
    if labels is None:
        return
    for row in frames:
        row["video_score"] = labels.get(str(row["video"]))
    for row in videos:
        if str(row["video"]) in labels:
            row["score"] = labels[str(row["video"])]
        else:
            row.setdefault("score", None)
    names = {str(r["video"]) for r in frames} | {str(r["video"]) for r in videos}
    known = len(names & set(labels))
    if known < len(names):
        print(f"warning: --video-labels has a score for {known} of {len(names)} predicted videos", file=sys.stderr)


def _main_segmentation(args: argparse.Namespace, model: nn.Module, config: dict[str, Any],
                       rows: Sequence[ManifestRow]) -> int:
    cache = VideoFrameCache()
    images = [read_image(r.image) if r.image is not None else cache.frame(r.source, int(r.frame or 0))
              for r in rows]
    mc = args.mc_samples if args.mc_samples is not None else int(config.get("mc_samples", 40))
    args.out.mkdir(parents=True, exist_ok=True)
    index = []
    outputs = segment_images(model, images, size=tuple(config["size"]), mc_samples=mc)  # type: ignore[arg-type]
    for n, (row, (mask, std)) in enumerate(zip(rows, outputs, strict=True)):
        entry = {"key": row.key, "patient": row.patient, "video": row.video, "frame": row.frame,
                 "mask": f"{n:06d}_mask.png", "uncertainty": None}
        cv2.imwrite(str(args.out / entry["mask"]), mask)
        if std is not None:
            entry["uncertainty"] = f"{n:06d}_uncertainty.png"
            cv2.imwrite(str(args.out / entry["uncertainty"]), uncertainty_to_uint8(std))
        index.append(entry)
    write_jsonl(args.out / "segmentations.jsonl", index)
    print(f"{len(index)} masks -> {args.out}")
    return 0


def _main_sequence(args: argparse.Namespace, model: nn.Module, config: dict[str, Any],
                   rows: Sequence[ManifestRow], labels: dict[str, int] | None) -> int:
    frames, videos = predict_sequence_rows(model, rows, size=tuple(config["size"]), window=int(config["window"]),
                                           batch_size=args.batch_size)
    frames = [{k: v for k, v in f.items() if k != "extra"} for f in frames]
    _attach_labels(frames, videos, labels)
    write_jsonl(args.out, frames)
    video_out = args.video_out or args.out.with_name(args.out.stem + ".videos.jsonl")
    write_jsonl(video_out, videos)
    print(f"{len(frames)} frame predictions -> {args.out}; {len(videos)} video predictions -> {video_out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    labels = (load_video_labels(args.video_labels, video_column=args.video_column, score_column=args.score_column)
              if args.video_labels else None)
    model, config = load_frame_scorer(args.checkpoint, args.device)
    rows = read_manifest(args.manifest)
    task = get_model_spec(config["model"]).task
    if task == "segmentation":
        if labels is not None:
            print("warning: --video-labels is ignored for segmentation models", file=sys.stderr)
        return _main_segmentation(args, model, config, rows)
    if task == "sequence":
        return _main_sequence(args, model, config, rows, labels)
    preds = predict_frames(
        model, rows, size=tuple(config["size"]), batch_size=args.batch_size, show_progress=not args.quiet
    )
    videos = (predict_videos(preds, aggregator=load_aggregator(args.aggregator), video_labels=labels)
              if args.aggregator is not None else [])
    _attach_labels(preds, videos, labels)
    write_jsonl(args.out, preds)
    print(f"{len(preds)} frame predictions -> {args.out}")
    if args.aggregator is not None:
        video_out = args.video_out or args.out.with_name(args.out.stem + ".videos.jsonl")
        write_jsonl(video_out, videos)
        print(f"{len(videos)} video predictions -> {video_out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 with a one-line message on bad input)."""
    args = build_parser().parse_args(argv)
    return run_cli("python -m ml.predict", lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
