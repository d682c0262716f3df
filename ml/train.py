"""Train a frame scorer, the video aggregator, the segmentation ensemble or a sequence model (CNN-LSTM).

The command line of :mod:`ml.training` (which holds the trainers; this module only parses arguments)::

    python -m ml.train frame --manifest M --model reg_stn --epochs N --batch-size B --size 64 64 --out DIR
        [--resume CKPT] [--val-manifest V] [--seed S] [--lr LR] [--device auto|cpu|cuda]
    python -m ml.train aggregator --predictions P.jsonl --labels L.csv --out DIR
        [--tnorm product|lukasiewicz] [--off-diagonal min|max|mean] [--max-epochs] [--lr] [--patience]
    python -m ml.train segmentation --manifest M --out DIR [--models unet_roy unet_plusplus deeplabv3_plus]
        [--val-manifest V] [--epochs] [--size 200 260] ...      (rows: image + mask; see ml.data.samples_from_manifest)
    python -m ml.train sequence --manifest M --model xception_lstm --out DIR [--labels L.csv] [--window 20]
        ...                                                       (CNN-LSTMs; see ml.training.sequence)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ml.data import load_video_labels, read_manifest, read_predictions, samples_from_manifest
from ml.losses import DEFAULT_SORD_SCALE
from ml.models import SEGMENTATION_MEMBERS, list_models
from ml.training import (
    AggregatorTrainConfig,
    FrameTrainConfig,
    SegTrainConfig,
    SequenceTrainConfig,
    TrainProgress,
    flat_metrics,
    train_aggregator,
    train_frame_scorer,
    train_segmentation,
    train_sequence_model,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    f = sub.add_parser("frame", help="train a frame scorer on a manifest")
    f.add_argument("--manifest", required=True, type=Path)
    f.add_argument("--model", default="reg_stn", choices=list_models("frame"))
    f.add_argument("--epochs", type=int, default=10)
    f.add_argument("--batch-size", type=int, default=64)
    f.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    f.add_argument("--out", required=True, type=Path)
    f.add_argument("--resume", type=Path)
    f.add_argument("--val-manifest", type=Path)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--weight-decay", type=float, default=1e-4)
    f.add_argument("--device", default="auto")
    f.add_argument("--no-augment", action="store_true")
    f.add_argument("--no-balance", action="store_true", help="plain shuffling instead of class balancing")
    f.add_argument("--sord-scale", type=float, default=DEFAULT_SORD_SCALE)
    f.add_argument("--consistency-weight", type=float)
    f.add_argument("--scale-weight", type=float)
    f.add_argument("--num-workers", type=int, default=0)
    f.add_argument("--no-preload", action="store_true", help="stream frames through a DataLoader")
    f.add_argument("--quiet", action="store_true", help="no progress bars")

    s = sub.add_parser("segmentation", help="train the segmentation ensemble on frames with masks")
    s.add_argument("--manifest", required=True, type=Path, help="image rows with a mask column (PNG of class ids)")
    s.add_argument("--val-manifest", type=Path)
    s.add_argument("--models", nargs="+", default=None,
                   choices=[m for m in list_models("segmentation") if m != "seg_ensemble"])
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--size", type=int, nargs=2, default=(200, 260), metavar=("H", "W"))
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--no-augment", action="store_true")
    s.add_argument("--no-balance", action="store_true")
    s.add_argument("--mc-samples", type=int, default=40, help="MC-dropout samples at inference (stored)")
    s.add_argument("--steps-per-epoch", type=int, help="default: one pass over the frames")
    s.add_argument("--model-kwargs", type=json.loads, default={}, help='JSON, e.g. {"unet_plusplus": {"encoder_name": "resnet18"}}')
    s.add_argument("--out", required=True, type=Path)

    v = sub.add_parser("sequence", help="train a sequence model (CNN-LSTM video scorer) on a manifest")
    v.add_argument("--manifest", required=True, type=Path)
    v.add_argument("--val-manifest", type=Path)
    v.add_argument("--labels", type=Path, help="CSV with video and score columns (default: max frame score)")
    v.add_argument("--model", default="xception_lstm", choices=list_models("sequence"))
    v.add_argument("--window", type=int, default=20)
    v.add_argument("--stride", type=int, default=10)
    v.add_argument("--epochs", type=int, default=10)
    v.add_argument("--batch-size", type=int, default=8)
    v.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    v.add_argument("--lr", type=float, default=1e-3)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--device", default="auto")
    v.add_argument("--augment", action="store_true")
    v.add_argument("--model-kwargs", type=json.loads, default={}, help='JSON, e.g. {"lstm_hidden": 256}')
    v.add_argument("--resume", type=Path)
    v.add_argument("--out", required=True, type=Path)

    a = sub.add_parser("aggregator", help="train the uninorm aggregator on frame predictions")
    a.add_argument("--predictions", required=True, type=Path)
    a.add_argument("--labels", required=True, type=Path, help="CSV with video and score columns")
    a.add_argument("--video-column", default="video")
    a.add_argument("--score-column", default="score")
    a.add_argument("--out", required=True, type=Path)
    a.add_argument("--tnorm", default="product", choices=("product", "lukasiewicz"))
    a.add_argument("--off-diagonal", default="min", choices=("min", "max", "mean"))
    a.add_argument("--max-epochs", type=int, default=500)
    a.add_argument("--lr", type=float, default=1e-2)
    a.add_argument("--patience", type=int, default=20)
    a.add_argument("--sord-scale", type=float, default=1.0)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--quiet", action="store_true")
    return parser


def _main_frame(args: argparse.Namespace) -> int:
    rows = read_manifest(args.manifest)
    val_rows = read_manifest(args.val_manifest) if args.val_manifest else None
    config = FrameTrainConfig(
        model=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        size=tuple(args.size),
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        device=args.device,
        augment=not args.no_augment,
        balanced_sampling=not args.no_balance,
        sord_scale=args.sord_scale,
        consistency_weight=args.consistency_weight,
        scale_weight=args.scale_weight,
        preload=not args.no_preload,
        num_workers=args.num_workers,
    )
    result = train_frame_scorer(
        config, rows, val_rows=val_rows, out_dir=args.out, resume=args.resume, show_progress=not args.quiet
    )
    summary = {k: v for k, v in result.metrics.items() if isinstance(v, int | float | str | bool)}
    print(json.dumps(summary, indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


def _main_aggregator(args: argparse.Namespace) -> int:
    predictions = read_predictions(args.predictions)
    labels = load_video_labels(args.labels, video_column=args.video_column, score_column=args.score_column)
    config = AggregatorTrainConfig(
        tnorm=args.tnorm,
        off_diagonal=args.off_diagonal,
        max_epochs=args.max_epochs,
        lr=args.lr,
        patience=args.patience,
        sord_scale=args.sord_scale,
        seed=args.seed,
    )
    bar = tqdm(total=config.max_epochs, desc="aggregator", disable=args.quiet, leave=False)

    def progress(p: TrainProgress) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{p.loss:.4f}")

    result = train_aggregator(config, predictions, labels, out_dir=args.out, progress_callback=progress)
    bar.close()
    print(
        json.dumps(
            {
                "videos": len(result.videos),
                "best_epoch": result.history.get("best_epoch"),
                "best_loss": result.history.get("best_loss"),
                "neutral": result.aggregator.neutral_elements().detach().tolist(),
            },
            indent=2,
        )
    )
    print(f"aggregator: {result.path}")
    return 0


def _main_segmentation(args: argparse.Namespace) -> int:
    args.models = args.models or list(SEGMENTATION_MEMBERS)
    config = SegTrainConfig(models=args.models, model_kwargs=args.model_kwargs, epochs=args.epochs,
                            batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch, size=tuple(args.size),
                            lr=args.lr, seed=args.seed, device=args.device, augment=not args.no_augment,
                            balanced_sampling=not args.no_balance, mc_samples=args.mc_samples)
    val = samples_from_manifest(args.val_manifest) if args.val_manifest else None
    result = train_segmentation(config, samples_from_manifest(args.manifest), val_samples=val, out_dir=args.out)
    print(json.dumps(flat_metrics(result.metrics.get("val", {})) or result.metrics["train_loss"], indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


def _main_sequence(args: argparse.Namespace) -> int:
    labels = load_video_labels(args.labels) if args.labels else None
    config = SequenceTrainConfig(model=args.model, model_kwargs=args.model_kwargs, window=args.window,
                                 stride=args.stride, epochs=args.epochs, batch_size=args.batch_size,
                                 size=tuple(args.size), lr=args.lr, seed=args.seed, device=args.device,
                                 augment=args.augment)
    result = train_sequence_model(config, read_manifest(args.manifest), video_labels=labels,
                                  val_rows=read_manifest(args.val_manifest) if args.val_manifest else None,
                                  val_video_labels=labels, out_dir=args.out, resume=args.resume)
    print(json.dumps({k: v for k, v in result.metrics.items() if isinstance(v, int | float | str | bool)}, indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    run = {"frame": _main_frame, "aggregator": _main_aggregator, "segmentation": _main_segmentation,
           "sequence": _main_sequence}[args.command]
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
