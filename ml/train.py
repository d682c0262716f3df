"""Train the embedding video scorer, a frame scorer, the video aggregator, the segmentation ensemble or a
sequence model (CNN-LSTM).

The command line of :mod:`ml.training` (which holds the trainers; this module only parses arguments)::

    python -m ml.train embedding --data DIR --out OUT [--cv 5] [--cache var/embeddings] [--model embedding_probe]
        (the recommended recipe: frozen ImageNet EfficientNet-Lite0 embeddings, cached; a calibrated head)
    python -m ml.train frame --manifest M --out DIR [--model reg_stn] [--epochs N] [--batch-size B] [--size H W]
        [--resume CKPT] [--val-manifest V] [--seed S] [--lr LR] [--device auto|cpu|cuda] [--threads N]
    python -m ml.train aggregator --predictions P.jsonl --out DIR [--labels L.csv]
        [--tnorm product|lukasiewicz] [--off-diagonal min|max|mean] [--max-epochs] [--lr] [--patience]
    python -m ml.train segmentation --manifest M --out DIR [--models unet_roy unet_plusplus deeplabv3_plus]
        [--val-manifest V] [--epochs] [--size H W] ...      (rows: image + mask; see ml.data.samples_from_manifest)
    python -m ml.train sequence --manifest M --out DIR [--model xception_lstm] [--labels L.csv] [--window 20]
        [--max-time-s S] ...                                   (CNN-LSTMs; see ml.training.sequence)

Every default is the training configuration's (``EmbeddingTrainConfig``, ``FrameTrainConfig``, ``AggregatorTrainConfig``,
``SegTrainConfig``, ``SequenceTrainConfig``): the recommended recipe lives in one place. Every trainer prints one
line per epoch with its main metrics and writes ``metrics.json`` (final metrics and the full ``history``) into
``--out``. ``--threads N`` sets torch's CPU threads (default: torch's own choice).

Each subcommand is one ``_add_<name>(sub)`` function that registers its parser and its ``run`` function; a new
subcommand adds one such function to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ml.data import (
    load_video_labels,
    read_manifest,
    read_predictions,
    samples_from_manifest,
    video_labels_from_predictions,
)
from ml.models import list_models
from ml.training import (
    AggregatorTrainConfig,
    EmbeddingTrainConfig,
    FrameTrainConfig,
    SegTrainConfig,
    SequenceTrainConfig,
    TrainProgress,
    cross_validate,
    flat_metrics,
    train_aggregator,
    train_embedding_model,
    train_frame_scorer,
    train_segmentation,
    train_sequence_model,
)
from ml.utils import run_cli, set_threads

__all__ = [
    "SUBCOMMANDS",
    "EpochPrinter",
    "add_runtime_arguments",
    "aggregator_config",
    "build_parser",
    "config_default",
    "frame_config",
    "main",
    "segmentation_config",
    "sequence_config",
]


# ---------------------------------------------------------------------------------------------------------
# shared pieces


def config_default(config_class: type, name: str) -> Any:
    """The default of field ``name`` of a training-config dataclass (the single source of CLI defaults)."""
    for f in fields(config_class):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
            raise ValueError(f"{config_class.__name__}.{name} has no default")
    raise ValueError(f"{config_class.__name__} has no field {name!r}")


def add_runtime_arguments(p: argparse.ArgumentParser, config_class: type, *, device: bool = True) -> None:
    """``--seed``, ``--device`` (when the trainer has one), ``--threads`` and ``--quiet``."""
    p.add_argument("--seed", type=int, default=config_default(config_class, "seed"))
    if device:
        p.add_argument("--device", default=config_default(config_class, "device"), help="auto|cpu|cuda|cuda:N|mps")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-epoch lines stay)")


def _size(config_class: type) -> dict[str, Any]:
    default = tuple(config_default(config_class, "size"))
    return {"type": int, "nargs": 2, "default": default, "metavar": ("H", "W"),
            "help": f"network input size (default: {default[0]} {default[1]})"}


def _fmt(value: float) -> str:
    return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"


class EpochPrinter:
    """Progress callback of the command lines: one line per epoch with its main metrics and, with ``bar``, a
    batch progress bar (for trainers that draw none themselves).

    ``per_step_epochs``: every ``phase="train"`` report is an epoch (the aggregator: one optimiser step each).
    """

    MAIN_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_weighted", "val_f1_macro",
                 "val_video_f1_weighted", "val_video_accuracy", "lr")

    def __init__(self, *, bar: bool = False, per_step_epochs: bool = False) -> None:
        self.bar_enabled = bar
        self.per_step_epochs = per_step_epochs
        self._bar: Any = None

    @classmethod
    def line(cls, p: TrainProgress) -> str:
        record: Mapping[str, Any] = p.metrics or {"train_loss": p.loss}
        head = f"epoch {p.epoch}/{p.epochs}"
        if "member" in record:
            head += f" [{record['member']} epoch {record.get('member_epoch', '?')}]"
        parts = [f"{k}={_fmt(float(record[k]))}" for k in cls.MAIN_KEYS
                 if isinstance(record.get(k), int | float) and not isinstance(record.get(k), bool)]
        if isinstance(record.get("time_s"), int | float):
            parts.append(f"time={record['time_s']:.1f}s")
        return "  ".join([head, *parts])

    def _print(self, text: str) -> None:
        tqdm.write(text)
        sys.stdout.flush()

    def __call__(self, p: TrainProgress) -> None:
        if self.per_step_epochs:
            if p.phase == "train":
                self._print(self.line(p))
            return
        if p.phase == "train" and self.bar_enabled:
            if self._bar is None:
                self._bar = tqdm(total=p.steps, desc=f"epoch {p.epoch}/{p.epochs}", leave=False)
            self._bar.update(p.step - self._bar.n)
            self._bar.set_postfix(loss=f"{p.loss:.4f}")
        elif p.phase == "epoch":
            self.close()
            self._print(self.line(p))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}


def _video_labels(path: Path | None, args: argparse.Namespace) -> dict[str, int] | None:
    if path is None:
        return None
    return load_video_labels(path, video_column=args.video_column, score_column=args.score_column)


def _add_label_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video-column", default="video", help="video id column of --labels (default: %(default)s)")
    p.add_argument("--score-column", default="score", help="score column of --labels (default: %(default)s)")


# ---------------------------------------------------------------------------------------------------------
# frame


def _add_frame(sub: argparse._SubParsersAction) -> None:
    c = FrameTrainConfig
    f = sub.add_parser("frame", help="train a frame scorer on a manifest")
    f.add_argument("--manifest", required=True, type=Path)
    f.add_argument("--out", required=True, type=Path)
    f.add_argument("--model", default=config_default(c, "model"), choices=list_models("frame"))
    f.add_argument("--epochs", type=int, default=config_default(c, "epochs"))
    f.add_argument("--batch-size", type=int, default=config_default(c, "batch_size"))
    f.add_argument("--size", **_size(c))
    f.add_argument("--resume", type=Path)
    f.add_argument("--val-manifest", type=Path)
    f.add_argument("--lr", type=float, default=config_default(c, "lr"))
    f.add_argument("--weight-decay", type=float, default=config_default(c, "weight_decay"))
    f.add_argument("--no-augment", action="store_true")
    f.add_argument("--no-balance", action="store_true", help="plain shuffling instead of class balancing")
    f.add_argument("--sord-scale", type=float, default=config_default(c, "sord_scale"))
    f.add_argument("--consistency-weight", type=float, help="default: the model's registry value")
    f.add_argument("--scale-weight", type=float, help="default: the model's registry value")
    f.add_argument("--num-workers", type=int, default=config_default(c, "num_workers"))
    f.add_argument("--no-preload", action="store_true", help="stream frames through a DataLoader")
    add_runtime_arguments(f, c)
    f.set_defaults(run=_main_frame)


def frame_config(args: argparse.Namespace) -> FrameTrainConfig:
    """The :class:`FrameTrainConfig` the parsed arguments ask for."""
    return FrameTrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size, size=tuple(args.size), lr=args.lr,
        weight_decay=args.weight_decay, seed=args.seed, device=args.device, augment=not args.no_augment,
        balanced_sampling=not args.no_balance, sord_scale=args.sord_scale, consistency_weight=args.consistency_weight,
        scale_weight=args.scale_weight, preload=not args.no_preload, num_workers=args.num_workers,
    )


def _main_frame(args: argparse.Namespace) -> int:
    config = frame_config(args)
    rows = read_manifest(args.manifest)
    val_rows = read_manifest(args.val_manifest) if args.val_manifest else None
    result = train_frame_scorer(config, rows, val_rows=val_rows, out_dir=args.out, resume=args.resume,
                                progress_callback=EpochPrinter(), show_progress=not args.quiet)
    print(json.dumps(_scalars(result.metrics), indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


# ---------------------------------------------------------------------------------------------------------
# aggregator


def _add_aggregator(sub: argparse._SubParsersAction) -> None:
    c = AggregatorTrainConfig
    a = sub.add_parser("aggregator", help="train the uninorm aggregator on frame predictions")
    a.add_argument("--predictions", required=True, type=Path, help="frame predictions of `python -m ml.predict`")
    a.add_argument("--labels", type=Path, help="CSV with video and score columns (default: the predictions' "
                   "video_score, from `ml.predict --video-labels`, else their videos' max frame score)")
    _add_label_columns(a)
    a.add_argument("--out", required=True, type=Path)
    a.add_argument("--tnorm", default=config_default(c, "tnorm"), choices=("product", "lukasiewicz"))
    a.add_argument("--off-diagonal", default=config_default(c, "off_diagonal"), choices=("min", "max", "mean"))
    a.add_argument("--max-epochs", type=int, default=config_default(c, "max_epochs"))
    a.add_argument("--lr", type=float, default=config_default(c, "lr"))
    a.add_argument("--patience", type=int, default=config_default(c, "patience"))
    a.add_argument("--sord-scale", type=float, default=config_default(c, "sord_scale"))
    add_runtime_arguments(a, c, device=False)
    a.set_defaults(run=_main_aggregator)


def aggregator_config(args: argparse.Namespace) -> AggregatorTrainConfig:
    """The :class:`AggregatorTrainConfig` the parsed arguments ask for."""
    return AggregatorTrainConfig(tnorm=args.tnorm, off_diagonal=args.off_diagonal, max_epochs=args.max_epochs,
                                 lr=args.lr, patience=args.patience, sord_scale=args.sord_scale, seed=args.seed)


def _main_aggregator(args: argparse.Namespace) -> int:
    config = aggregator_config(args)
    predictions = read_predictions(args.predictions)
    labels = _video_labels(args.labels, args)
    if labels is None:
        labels = video_labels_from_predictions(predictions)
    result = train_aggregator(config, predictions, labels, out_dir=args.out,
                              progress_callback=EpochPrinter(per_step_epochs=True))
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(json.dumps({"videos": len(result.videos), "best_epoch": result.history.get("best_epoch"),
                      "best_loss": result.history.get("best_loss"),
                      "train_predictions": {str(c): result.train_predictions.count(c)
                                            for c in sorted(set(result.train_predictions))},
                      "neutral": result.aggregator.neutral_elements().detach().tolist()}, indent=2))
    print(f"aggregator: {result.path}")
    return 0


# ---------------------------------------------------------------------------------------------------------
# segmentation


def _add_segmentation(sub: argparse._SubParsersAction) -> None:
    c = SegTrainConfig
    s = sub.add_parser("segmentation", help="train the segmentation ensemble on frames with masks")
    s.add_argument("--manifest", required=True, type=Path, help="image rows with a mask column (PNG of class ids)")
    s.add_argument("--val-manifest", type=Path)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--models", nargs="+", default=config_default(c, "models"),
                   choices=[m for m in list_models("segmentation") if m != "seg_ensemble"])
    s.add_argument("--epochs", type=int, default=config_default(c, "epochs"))
    s.add_argument("--batch-size", type=int, default=config_default(c, "batch_size"))
    s.add_argument("--size", **_size(c))
    s.add_argument("--lr", type=float, default=config_default(c, "lr"))
    s.add_argument("--no-augment", action="store_true")
    s.add_argument("--no-balance", action="store_true")
    s.add_argument("--mc-samples", type=int, default=config_default(c, "mc_samples"),
                   help="MC-dropout samples at inference (stored)")
    s.add_argument("--steps-per-epoch", type=int, help="default: one pass over the frames")
    s.add_argument("--max-time-s", type=float, help="stop each member after this many seconds")
    s.add_argument("--model-kwargs", type=json.loads, default={},
                   help='JSON, e.g. {"unet_plusplus": {"encoder_name": "resnet18"}}')
    add_runtime_arguments(s, c)
    s.set_defaults(run=_main_segmentation)


def segmentation_config(args: argparse.Namespace) -> SegTrainConfig:
    """The :class:`SegTrainConfig` the parsed arguments ask for."""
    return SegTrainConfig(models=args.models, model_kwargs=args.model_kwargs, epochs=args.epochs,
                          batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch, size=tuple(args.size),
                          lr=args.lr, seed=args.seed, device=args.device, augment=not args.no_augment,
                          balanced_sampling=not args.no_balance, mc_samples=args.mc_samples,
                          max_time_s=args.max_time_s)


def _main_segmentation(args: argparse.Namespace) -> int:
    config = segmentation_config(args)
    val = samples_from_manifest(args.val_manifest) if args.val_manifest else None
    printer = EpochPrinter(bar=not args.quiet)
    result = train_segmentation(config, samples_from_manifest(args.manifest), val_samples=val, out_dir=args.out,
                                progress_callback=printer)
    printer.close()
    print(json.dumps(flat_metrics(result.metrics.get("val", {})) or result.metrics["train_loss"], indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


# ---------------------------------------------------------------------------------------------------------
# sequence


def _add_sequence(sub: argparse._SubParsersAction) -> None:
    c = SequenceTrainConfig
    v = sub.add_parser("sequence", help="train a sequence model (CNN-LSTM video scorer) on a manifest")
    v.add_argument("--manifest", required=True, type=Path)
    v.add_argument("--val-manifest", type=Path)
    v.add_argument("--out", required=True, type=Path)
    v.add_argument("--labels", type=Path, help="CSV with video and score columns (default: max frame score)")
    _add_label_columns(v)
    v.add_argument("--model", default=config_default(c, "model"), choices=list_models("sequence"))
    v.add_argument("--window", type=int, default=config_default(c, "window"))
    v.add_argument("--stride", type=int, default=config_default(c, "stride"))
    v.add_argument("--epochs", type=int, default=config_default(c, "epochs"))
    v.add_argument("--batch-size", type=int, default=config_default(c, "batch_size"))
    v.add_argument("--size", **_size(c))
    v.add_argument("--lr", type=float, default=config_default(c, "lr"))
    v.add_argument("--weight-decay", type=float, default=config_default(c, "weight_decay"))
    v.add_argument("--augment", action="store_true", default=config_default(c, "augment"))
    v.add_argument("--no-balance", action="store_true", help="plain shuffling instead of class balancing")
    v.add_argument("--max-time-s", type=float,
                   help="stop cleanly after this many seconds (at a batch; the checkpoint is saved)")
    v.add_argument("--model-kwargs", type=json.loads, default={}, help='JSON, e.g. {"lstm_hidden": 256}')
    v.add_argument("--resume", type=Path)
    add_runtime_arguments(v, c)
    v.set_defaults(run=_main_sequence)


def sequence_config(args: argparse.Namespace) -> SequenceTrainConfig:
    """The :class:`SequenceTrainConfig` the parsed arguments ask for."""
    return SequenceTrainConfig(model=args.model, model_kwargs=args.model_kwargs, window=args.window,
                               stride=args.stride, epochs=args.epochs, batch_size=args.batch_size,
                               size=tuple(args.size), lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                               device=args.device, augment=args.augment, balanced_sampling=not args.no_balance,
                               max_time_s=args.max_time_s)


def _main_sequence(args: argparse.Namespace) -> int:
    config = sequence_config(args)
    labels = _video_labels(args.labels, args)
    printer = EpochPrinter(bar=not args.quiet)
    result = train_sequence_model(config, read_manifest(args.manifest), video_labels=labels,
                                  val_rows=read_manifest(args.val_manifest) if args.val_manifest else None,
                                  val_video_labels=labels, out_dir=args.out, resume=args.resume,
                                  progress_callback=printer)
    printer.close()
    if result.metrics.get("stopped_at_time_limit"):
        print(f"stopped after --max-time-s {config.max_time_s:g} s", file=sys.stderr)
    print(json.dumps(_scalars(result.metrics), indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


def _add_embedding(sub: argparse._SubParsersAction) -> None:
    c = EmbeddingTrainConfig
    e = sub.add_parser("embedding", help="the recommended recipe: a video scorer on cached pretrained frame "
                                         "embeddings (a COVID-BLUeS-layout folder)")
    e.add_argument("--data", required=True, type=Path, help="holds lus_videos/*.mp4 and severity.csv")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--cache", type=Path, default=Path("var/embeddings"), help="embedding cache (default: %(default)s)")
    e.add_argument("--model", default=config_default(c, "model"), choices=list_models("embedding"))
    e.add_argument("--frame-step", type=int, default=config_default(c, "frame_step"))
    e.add_argument("--size", type=int, default=config_default(c, "size"), help="square encoder input size")
    e.add_argument("--l2", type=float, default=config_default(c, "l2"))
    e.add_argument("--optimizer", default=config_default(c, "optimizer"), choices=("lbfgs", "adamw"))
    e.add_argument("--cv", type=int, default=5, help="patient-level CV folds first (0: none)")
    e.add_argument("--uninorm-folds", type=int, default=config_default(c, "uninorm_folds"),
                   help="fit the uninorm aggregator on inner out-of-fold frame probabilities of this many "
                        "patient folds (0: none; CV then reports it next to argmax_mean)")
    e.add_argument("--model-kwargs", type=json.loads, default={}, help='JSON, e.g. {"hidden": 0}')
    add_runtime_arguments(e, c, device=False)
    e.set_defaults(run=_main_embedding)


def _main_embedding(args: argparse.Namespace) -> int:
    from ml.embeddings import EmbeddingCache, folder_bags

    config = EmbeddingTrainConfig(model=args.model, model_kwargs=args.model_kwargs, frame_step=args.frame_step,
                                  size=args.size, l2=args.l2, optimizer=args.optimizer, seed=args.seed,
                                  uninorm_folds=args.uninorm_folds)
    bags = folder_bags(args.data, EmbeddingCache(args.cache), spec=config.embedding_spec(),
                       frame_step=config.frame_step,
                       progress=None if args.quiet else lambda done, total: print(f"embedded {done}/{total} videos",
                                                                                   file=sys.stderr))
    summary: dict[str, Any] = {}
    if args.cv:
        cv = cross_validate(config, bags, k=args.cv, seed=args.seed)
        summary["cv"] = {k: v for k, v in cv.items() if k != "predictions"}
        print(f"patient-level {cv['folds']}-fold CV: weighted F1 {cv['f1_weighted_mean']:.3f} ± "
              f"{cv['f1_weighted_std']:.3f}, quadratic kappa {cv['quadratic_kappa_mean']:.3f}, "
              f"ECE {cv['ece_mean']:.3f}")
        for name, report in cv.get("aggregators", {}).items():
            print(f"  frame probabilities by {name}: weighted F1 {report['f1_weighted_mean']:.3f}, "
                  f"quadratic kappa {report['quadratic_kappa_mean']:.3f}")
    result = train_embedding_model(config, bags, out_dir=args.out)
    summary.update(metrics=result.metrics, history=result.history)
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2, default=float))
    print(json.dumps(_scalars(result.metrics), indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0


# ---------------------------------------------------------------------------------------------------------
# entry point

SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_embedding, _add_frame, _add_aggregator, _add_segmentation, _add_sequence,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 with a one-line message on bad input)."""
    args = build_parser().parse_args(argv)

    def run() -> int:
        set_threads(args.threads)
        return int(args.run(args))

    return run_cli(f"python -m ml.train {args.command}", run)


if __name__ == "__main__":
    sys.exit(main())
