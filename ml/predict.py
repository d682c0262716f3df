"""Inference: per-frame score probabilities + crop boxes, and (optionally) video scores.

Programmatic API::

    model, config = load_frame_scorer("runs/x/checkpoint.pt")
    frames = predict_frames(model, rows, size=tuple(config["size"]))
    videos = predict_videos(frames, aggregator=load_aggregator("runs/agg/aggregator.pt"))

CLI::

    python -m ml.predict --checkpoint C --manifest M --out preds.jsonl [--aggregator A] [--video-out V]

Each line of ``preds.jsonl`` is one frame::

    {"key": "...", "patient": "p1", "video": "p1_R1", "frame": 12, "image": null, "score": 2,
     "probs": [p0, p1, p2, p3], "pred": 2,
     "box1": [[x, y] x 4], "box2": [[x, y] x 4] | null, "scales": [s1, s2] | null}

Segmentation ensembles and CNN-LSTMs (the checkpoint's model says which) load the same way: for a
segmentation checkpoint ``--out`` is a folder that receives ``<n>_mask.png`` (class ids) and
``<n>_uncertainty.png`` (MC-dropout std, 255 = 0.5) per row and ``segmentations.jsonl`` naming them; for a
CNN-LSTM ``--out`` gets the frame predictions of per-frame models and ``--video-out`` the video scores.

``box1`` / ``box2`` are the crop quadrilaterals (corners top-left, top-right, bottom-right, bottom-left of
the crop) in *original frame* pixels (the model input's resize / padding undone); ``box1`` is the crop that
was classified. Full-frame models give ``null`` boxes. With ``--aggregator`` a second file (default
``<out>.videos.jsonl``) holds one line per video: ``{"video", "patient", "n_frames", "score", "probs",
"pred", "max_argmax", "argmax_mean"}`` (``probs`` = softmax of the uninorm aggregates).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml.aggregation import UninormAggregator
from ml.checkpoint import load_checkpoint, model_from_checkpoint
from ml.data import FrameDataset, ManifestRow, VideoFrameCache, read_manifest
from ml.models import FrameScorerOutput, crop_boxes
from ml.utils import autocast_context, pick_device

__all__ = [
    "build_parser",
    "load_frame_scorer",
    "main",
    "predict_frames",
    "predict_videos",
    "write_jsonl",
]


def load_frame_scorer(
    checkpoint: str | Path, device: str | torch.device = "auto"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model from a checkpoint: ``(model in eval mode on device, config dict)``.

    Any registry model loads this way (segmentation ensembles and CNN-LSTMs included); the name says what
    ``ml.predict`` uses it for.

    Raises:
        FileNotFoundError / ValueError: see :func:`ml.checkpoint.load_checkpoint`.
    """
    ckpt = load_checkpoint(checkpoint)
    dev = pick_device(device)
    model = model_from_checkpoint(ckpt).to(dev)
    return model, dict(ckpt["config"])


def _boxes_to_original(boxes: torch.Tensor | None, infos) -> list[list[list[float]] | None]:
    if boxes is None:
        return [None] * len(infos)
    out = []
    for b, info in zip(boxes.cpu().numpy(), infos, strict=True):
        out.append(np.round(info.to_original(b), 2).tolist())
    return out


@torch.no_grad()
def predict_frames(
    model: nn.Module,
    rows: Sequence[ManifestRow],
    *,
    size: tuple[int, int],
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache: VideoFrameCache | None = None,
    progress_callback: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = False,
) -> list[dict[str, Any]]:
    """Score every row.

    Args:
        model: a frame scorer returning :class:`FrameScorerOutput`.
        rows: manifest rows (labels optional).
        size: model input size ``(H, W)`` (the training size, ``config["size"]``).
        batch_size: frames per forward pass.
        device: defaults to the model's device.
        cache: shared :class:`VideoFrameCache`.
        progress_callback: ``(frames_done, frames_total)`` after each batch.
        should_stop: polled before each batch; ``True`` stops and returns the rows scored so far.

    Returns:
        One dict per row (see the module docstring), in ``rows`` order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dev = next(model.parameters()).device if device is None else pick_device(device)
    model = model.to(dev).eval()
    use_cl = dev.type == "cuda"
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
    ds = FrameDataset(rows, size=size, cache=cache)
    out: list[dict[str, Any]] = []
    h, w = int(size[0]), int(size[1])
    starts = range(0, len(ds), batch_size)
    for start in tqdm(starts, desc="predict", disable=not show_progress, leave=False):
        if should_stop is not None and should_stop():
            break
        idx = list(range(start, min(start + batch_size, len(ds))))
        loaded = [ds.load_uint8(i) for i in idx]
        x = (
            torch.from_numpy(np.stack([f for f, _ in loaded]))
            .to(dev)
            .float()
            .div_(127.5)
            .sub_(1.0)
            .unsqueeze(1)
        )
        if use_cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(dev):
            res: FrameScorerOutput = model(x)
        probs = res.probs().cpu().numpy()
        infos = [info for _, info in loaded]
        b1 = _boxes_to_original(crop_boxes(res.theta1, h, w) if res.theta1 is not None else None, infos)
        b2 = _boxes_to_original(crop_boxes(res.theta2, h, w) if res.theta2 is not None else None, infos)
        scales = res.scales.float().cpu().numpy() if res.scales is not None else None
        for j, i in enumerate(idx):
            row = rows[i]
            out.append(
                {
                    "key": row.key,
                    "patient": row.patient,
                    "video": row.video,
                    "frame": row.frame,
                    "image": str(row.image) if row.image is not None else None,
                    "score": row.score,
                    "probs": [round(float(p), 6) for p in probs[j]],
                    "pred": int(probs[j].argmax()),
                    "box1": b1[j],
                    "box2": b2[j],
                    "scales": None if scales is None else [round(float(s), 4) for s in scales[j]],
                }
            )
        if progress_callback is not None:
            progress_callback(len(out), len(ds))
    return out


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
    from ml.aggregation import argmax_mean, max_argmax
    from ml.train import group_predictions

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


def write_jsonl(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write dicts as JSON Lines (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path


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
    p.add_argument("--quiet", action="store_true")
    return p


def _main_segmentation(args: argparse.Namespace, model: nn.Module, config: dict[str, Any],
                       rows: Sequence[ManifestRow]) -> int:
    import cv2

    from ml.data import read_image
    from ml.train_segmentation import segment_images, uncertainty_to_uint8

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
                   rows: Sequence[ManifestRow]) -> int:
    from ml.train_video import predict_video_rows

    frames, videos = predict_video_rows(model, rows, size=tuple(config["size"]), window=int(config["window"]),
                                        batch_size=args.batch_size)
    write_jsonl(args.out, [{k: v for k, v in f.items() if k != "extra"} for f in frames])
    video_out = args.video_out or args.out.with_name(args.out.stem + ".videos.jsonl")
    write_jsonl(video_out, videos)
    print(f"{len(frames)} frame predictions -> {args.out}; {len(videos)} video predictions -> {video_out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    from ml.models import get_model_spec

    args = build_parser().parse_args(argv)
    model, config = load_frame_scorer(args.checkpoint, args.device)
    rows = read_manifest(args.manifest)
    task = get_model_spec(config["model"]).task
    if task == "segmentation":
        return _main_segmentation(args, model, config, rows)
    if task == "sequence":
        return _main_sequence(args, model, config, rows)
    preds = predict_frames(
        model, rows, size=tuple(config["size"]), batch_size=args.batch_size, show_progress=not args.quiet
    )
    write_jsonl(args.out, preds)
    print(f"{len(preds)} frame predictions -> {args.out}")
    if args.aggregator is not None:
        from ml.train import load_aggregator

        videos = predict_videos(preds, aggregator=load_aggregator(args.aggregator))
        video_out = args.video_out or args.out.with_name(args.out.stem + ".videos.jsonl")
        write_jsonl(video_out, videos)
        print(f"{len(videos)} video predictions -> {video_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
