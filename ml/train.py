"""Training: the frame scorer (any registered model) and the video aggregator (uninorms).

Programmatic API (what the platform's jobs call; the CLI below is a thin wrapper)::

    result = train_frame_scorer(FrameTrainConfig(model="reg_stn", epochs=10), rows,
                                val_rows=val_rows, out_dir="runs/x",
                                progress_callback=on_progress, should_stop=is_cancelled)
    agg = train_aggregator(AggregatorTrainConfig(), predictions, video_labels, out_dir="runs/agg")

``progress_callback(p: TrainProgress)`` is called after every batch (``phase="train"``), after validation
(``phase="val"``) and at the end of every epoch (``phase="epoch"``, with the epoch's metrics);
``should_stop() -> bool`` is polled before every batch: when it returns ``True`` training stops
cooperatively, the partial epoch is discarded and the result has ``cancelled=True`` (the last completed
epoch's checkpoint stays on disk).

CLI::

    python -m ml.train frame --manifest M --model reg_stn --epochs N --batch-size B --size 64 64 --out DIR
        [--resume CKPT] [--val-manifest V] [--seed S] [--lr LR] [--device auto|cpu|cuda]
    python -m ml.train aggregator --predictions P.jsonl --labels L.csv --out DIR
        [--tnorm product|lukasiewicz] [--off-diagonal min|max|mean] [--max-epochs] [--lr] [--patience]
    python -m ml.train segmentation --manifest M --out DIR [--models unet_roy unet_plusplus deeplabv3_plus]
        [--val-manifest V] [--epochs] [--size 200 260] ...      (rows: image + mask; see ml.train_segmentation)
    python -m ml.train video --manifest M --model xception_lstm --out DIR [--labels L.csv] [--window 20]
        ...                                                       (CNN-LSTMs; see ml.train_video)

On CUDA, training uses bf16 autocast and channels_last; frames are pre-decoded once into a uint8 tensor
held on the training device (``preload=True``) and augmented there, batch-wise.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self, cast

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml.aggregation import OffDiagonal, TNorm, UninormAggregator
from ml.checkpoint import load_checkpoint, restore_rng_state, save_checkpoint
from ml.data import FrameDataset, LUSAugment, ManifestRow, VideoFrameCache, read_manifest
from ml.losses import DEFAULT_SORD_SCALE
from ml.models import FrameScorerOutput, get_model_spec
from ml.utils import autocast_context, pick_device, seed_everything

__all__ = [
    "AggregatorTrainConfig",
    "AggregatorTrainResult",
    "FrameTrainConfig",
    "FrameTrainResult",
    "TrainProgress",
    "build_parser",
    "evaluate",
    "group_predictions",
    "load_aggregator",
    "load_video_labels",
    "main",
    "read_predictions",
    "train_aggregator",
    "train_frame_scorer",
    "train_one_epoch",
]

ProgressCallback = Callable[["TrainProgress"], None]
StopCallback = Callable[[], bool]


@dataclass(frozen=True)
class TrainProgress:
    """One progress report.

    Attributes:
        phase: ``"train"`` (after a batch), ``"val"`` (after validation) or ``"epoch"`` (epoch finished).
        epoch: current epoch, 1-based.
        epochs: total epochs planned.
        step: batches done in this epoch (``phase="train"``), else ``steps``.
        steps: batches per epoch.
        loss: running mean training loss of the epoch (``nan`` if no batch yet).
        metrics: the epoch's metric record (``phase="val"`` / ``"epoch"``), else ``None``.
    """

    phase: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    metrics: Mapping[str, Any] | None = None


class TrainConfig:
    """Dict round trip shared by the training-config dataclasses (stored in checkpoints and jobs)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples (sizes) become lists."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from a dict, ignoring unknown keys (checkpoints may carry newer ones)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})

    def output_folder(self, out_dir: str | Path | None) -> Path | None:
        """Create ``out_dir`` (when given) with this configuration as ``config.json`` in it; returns it."""
        if out_dir is None:
            return None
        out_path = Path(out_dir)
        out_path.mkdir(parents=True, exist_ok=True)
        (out_path / "config.json").write_text(json.dumps(self.to_dict(), indent=2))
        return out_path

    def _check_positive(self, *names: str) -> None:
        """Raise ValueError unless each named field is an integer >= 1."""
        for name in names:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def _check_network_basics(self, *, min_side: int) -> None:
        """Checks every network-training config shares: ``size`` of at least ``min_side`` pixels a side, a
        positive finite ``lr``, a known ``scheduler`` (where the config has one), ``num_classes >= 2``."""
        size, lr, num_classes = self.size, self.lr, self.num_classes  # type: ignore[attr-defined]
        if min(size) < min_side:
            raise ValueError(f"size must be at least {min_side}x{min_side}, got {size}")
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a positive number, got {lr}")
        scheduler = getattr(self, "scheduler", "none")
        if scheduler not in ("cosine", "none"):
            raise ValueError(f"scheduler must be 'cosine' or 'none', got {scheduler!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")


@dataclass
class FrameTrainConfig(TrainConfig):
    """Frame-scorer training configuration (JSON-serialisable; stored in every checkpoint).

    Defaults follow the public reference code (Adam, weight decay 1e-4, batch 64, class-balanced sampling,
    SORD sharpness 2, unit loss weights) except the learning rate (1e-3 instead of 1e-4: short runs) and the
    schedule (cosine over ``epochs`` instead of a step at epoch 70).
    """

    model: str = "reg_stn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    num_classes: int = 4
    epochs: int = 10
    batch_size: int = 64
    size: tuple[int, int] = (224, 224)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"  # "cosine" | "none"
    seed: int = 0
    device: str = "auto"
    augment: bool = True
    balanced_sampling: bool = True
    sord_scale: float = DEFAULT_SORD_SCALE
    consistency_weight: float | None = None  # None: the registry's value
    scale_weight: float | None = None
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # on CUDA
    preload: bool = True  # decode all frames into one uint8 tensor on the device
    num_workers: int = 0  # DataLoader workers when preload is False
    grad_clip: float | None = 5.0

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        self.model_kwargs = dict(self.model_kwargs)
        get_model_spec(self.model, "frame")  # raises ValueError on an unknown model or another task's
        self._check_positive("epochs", "batch_size")
        self._check_network_basics(min_side=32)


@dataclass
class FrameTrainResult:
    """Outcome of :func:`train_frame_scorer`.

    Attributes:
        model: the trained model (eval mode, on the training device).
        history: per-epoch metric records (all epochs, including resumed ones).
        metrics: final metrics (last epoch's record; validation metrics when validation rows were given).
        confusion: last validation confusion matrix ``(C, C)`` (rows = truth) or ``None``.
        checkpoint: path of the last checkpoint (``None`` without ``out_dir``).
        best_checkpoint: path of the best-validation-F1 checkpoint, if any.
        report: files written by :func:`ml.metrics.write_report`.
        cancelled: ``True`` when ``should_stop`` ended training early.
    """

    model: nn.Module
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    confusion: np.ndarray | None = None
    checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    report: dict[str, Path] = field(default_factory=dict)
    cancelled: bool = False


class _Cancelled(Exception):
    pass


# ----------------------------------------------------------------------------------------------------------
# batches


class _FrameBatches:
    """Yields ``(frames float (B, 1, H, W) in [-1, 1], labels (B,))`` on the target device.

    ``preload``: every frame decoded once into a uint8 tensor ``(N, 1, H, W)`` on ``device``; batches are
    index selections. Otherwise a DataLoader over :class:`FrameDataset`.
    """

    def __init__(
        self,
        rows: Sequence[ManifestRow],
        size: tuple[int, int],
        device: torch.device,
        *,
        preload: bool,
        num_workers: int = 0,
        cache: VideoFrameCache | None = None,
        desc: str = "decode",
        show_progress: bool = False,
    ) -> None:
        self.dataset = FrameDataset(rows, size=size, cache=cache)
        self.device = device
        self.labels = torch.tensor(self.dataset.labels, dtype=torch.long)
        self.preload = preload
        self.num_workers = num_workers
        self.frames: torch.Tensor | None = None
        if preload:
            buf = torch.empty((len(rows), 1, *size), dtype=torch.uint8)
            it = range(len(rows))
            if show_progress:
                it = tqdm(it, desc=desc, leave=False, unit="frame")
            for i in it:
                buf[i, 0] = torch.from_numpy(self.dataset.load_uint8(i)[0])
            self.frames = buf.to(device)

    def __len__(self) -> int:
        return len(self.dataset)

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def batches(self, order: torch.Tensor, batch_size: int):
        if self.frames is not None:
            labels = self.labels.to(self.device)
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size].to(self.device)
                x = self.frames.index_select(0, idx).float().div_(127.5).sub_(1.0)
                yield x, labels.index_select(0, idx)
            return
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(self.dataset, order.tolist()),
            batch_size=batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def _epoch_order(labels: torch.Tensor, *, balanced: bool, seed: int, epoch: int) -> torch.Tensor:
    """Sample order of one epoch, a pure function of (seed, epoch): identical after a resume."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    n = len(labels)
    if not balanced:
        return torch.randperm(n, generator=g)
    counts = torch.bincount(labels.clamp(min=0), minlength=int(labels.max()) + 1).float()
    weights = (1.0 / counts.clamp(min=1))[labels.clamp(min=0)]
    return torch.multinomial(weights, n, replacement=True, generator=g)


def _to_input(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# ----------------------------------------------------------------------------------------------------------
# one epoch / evaluation


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches,
    device: torch.device,
    *,
    epoch: int = 1,
    epochs: int = 1,
    steps: int | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    amp: bool = True,
    channels_last: bool = False,
    grad_clip: float | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    show_progress: bool = False,
) -> dict[str, float]:
    """Train for one pass over ``batches`` (an iterable of ``(frames (B, 1, H, W), labels (B,))`` on ``device``).

    Returns:
        ``{"train_loss", "train_classification", "train_consistency", "train_scale", "train_accuracy"}``
        (means over frames).

    Raises:
        _Cancelled: (internal) when ``should_stop()`` returns ``True``.
    """
    model.train()
    sums: dict[str, float] = defaultdict(float)
    n_seen, correct = 0, 0
    bar = tqdm(batches, total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not show_progress)
    for step, (x, y) in enumerate(bar, start=1):
        if should_stop is not None and should_stop():
            raise _Cancelled
        if augment is not None:
            x = augment(x)
        x = _to_input(x, channels_last)
        with autocast_context(device, amp):
            out: FrameScorerOutput = model(x)
            parts = criterion(out, y)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        b = y.shape[0]
        n_seen += b
        for name, value in parts._asdict().items():
            sums[name] += float(value.detach()) * b
        correct += int((out.logits.detach().argmax(1) == y).sum())
        running = sums["total"] / n_seen
        bar.set_postfix(loss=f"{running:.4f}")
        if progress_callback is not None:
            progress_callback(TrainProgress("train", epoch, epochs, step, steps or step, running, None))
    n = max(n_seen, 1)
    return {
        "train_loss": sums["total"] / n,
        "train_classification": sums["classification"] / n,
        "train_consistency": sums["consistency"] / n,
        "train_scale": sums["scale"] / n,
        "train_accuracy": correct / n,
    }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    criterion: nn.Module | None,
    batches,
    device: torch.device,
    *,
    num_classes: int = 4,
    amp: bool = True,
    channels_last: bool = False,
    prefix: str = "val_",
) -> tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate on labelled batches.

    Returns:
        ``(metrics, confusion (C, C), probs (N, C), labels (N,))`` where metrics holds ``{prefix}loss``,
        ``{prefix}accuracy``, ``{prefix}f1_weighted`` and ``{prefix}f1_macro``.
    """
    from ml.metrics import confusion_matrix, frame_f1

    model.eval()
    probs, labels = [], []
    loss_sum, n = 0.0, 0
    for x, y in batches:
        x = _to_input(x, channels_last)
        with autocast_context(device, amp):
            out = model(x)
            if criterion is not None:
                loss_sum += float(criterion(out, y).total) * y.shape[0]
        n += y.shape[0]
        probs.append(out.probs().cpu())
        labels.append(y.cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros((0, num_classes), np.float32)
    t = torch.cat(labels).numpy() if labels else np.zeros((0,), np.int64)
    pred = p.argmax(1) if len(p) else np.zeros((0,), np.int64)
    metrics = {
        f"{prefix}loss": loss_sum / max(n, 1) if criterion is not None else float("nan"),
        f"{prefix}accuracy": float((pred == t).mean()) if len(t) else float("nan"),
        f"{prefix}f1_weighted": float(frame_f1(t, pred, average="weighted")) if len(t) else float("nan"),
        f"{prefix}f1_macro": float(frame_f1(t, pred, average="macro")) if len(t) else float("nan"),
    }
    conf = np.asarray(confusion_matrix(t, pred, num_classes=num_classes))
    return metrics, conf, p, t


# ----------------------------------------------------------------------------------------------------------
# full frame-scorer training


def _build(config: FrameTrainConfig, device: torch.device):
    spec = get_model_spec(config.model)
    model = spec.build(num_classes=config.num_classes, **config.model_kwargs).to(device)
    use_cl = config.channels_last and device.type == "cuda"
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
    overrides: dict[str, Any] = {"num_classes": config.num_classes, "sord_scale": config.sord_scale}
    if config.consistency_weight is not None:
        overrides["consistency_weight"] = config.consistency_weight
    if config.scale_weight is not None:
        overrides["scale_weight"] = config.scale_weight
    criterion = spec.build_loss(**overrides).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.LambdaLR(optimizer, _CosineFactor(config.epochs))
        if config.scheduler == "cosine"
        else None
    )
    return model, criterion, optimizer, scheduler, use_cl


class _CosineFactor:
    """Closed-form cosine decay ``0.5 (1 + cos(pi e / T))`` of the learning rate after ``e`` epochs.

    Closed form (not the chainable ``CosineAnnealingLR``) so that resuming with a larger epoch budget
    gives exactly the schedule of an uninterrupted run.
    """

    def __init__(self, total_epochs: int) -> None:
        self.total_epochs = total_epochs

    def __call__(self, epoch: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.total_epochs) / self.total_epochs))


def _check_labelled(rows: Sequence[ManifestRow], what: str) -> None:
    if not rows:
        raise ValueError(f"{what}: no rows")
    missing = sum(r.score is None for r in rows)
    if missing:
        raise ValueError(f"{what}: {missing} row(s) have no score; training needs labelled frames")


def train_frame_scorer(
    config: FrameTrainConfig | Mapping[str, Any],
    rows: Sequence[ManifestRow],
    *,
    val_rows: Sequence[ManifestRow] | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    show_progress: bool = False,
    cache: VideoFrameCache | None = None,
) -> FrameTrainResult:
    """Train a registered frame scorer on manifest rows.

    Args:
        config: :class:`FrameTrainConfig` (or its dict form).
        rows: labelled training rows.
        val_rows: optional labelled validation rows (evaluated after every epoch).
        out_dir: where to write ``checkpoint.pt`` (every epoch), ``best.pt`` (best validation weighted F1),
            ``config.json`` and the report (``metrics.json`` + PNG curves). ``None``: nothing is written.
        resume: checkpoint to continue from; training restarts after its stored epoch with its model,
            optimizer, scheduler, history and RNG states (``config.epochs`` may extend the run).
        progress_callback: called with :class:`TrainProgress` after each batch / validation / epoch.
        should_stop: polled before each batch; ``True`` cancels cooperatively.
        show_progress: tqdm bars (the CLI turns them on).
        cache: a shared :class:`VideoFrameCache` (e.g. across cross-validation folds).

    Returns:
        :class:`FrameTrainResult`.

    Raises:
        ValueError: on an invalid config or unlabelled rows.
        FileNotFoundError: if a frame source or the resume checkpoint is missing.
    """
    if not isinstance(config, FrameTrainConfig):
        config = FrameTrainConfig.from_dict(config)
    _check_labelled(rows, "training rows")
    if val_rows:
        _check_labelled(val_rows, "validation rows")
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        stored = FrameTrainConfig.from_dict(ckpt["config"])
        if stored.model != config.model:
            raise ValueError(
                f"resume checkpoint holds model {stored.model!r}, config asks for {config.model!r}"
            )
        # the stored configuration wins; only the epoch budget and the device may change on resume
        stored.epochs, stored.device = config.epochs, config.device
        config = stored
    seed_everything(config.seed)
    device = pick_device(config.device)
    model, criterion, optimizer, scheduler, use_cl = _build(config, device)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        if "optimizer" in ckpt:
            optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and "scheduler" in ckpt:
            scheduler.load_state_dict(ckpt["scheduler"])
            factor = _CosineFactor(config.epochs)  # the epoch budget may have grown: recompute the lr
            scheduler.lr_lambdas = [factor for _ in optimizer.param_groups]
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
                group["lr"] = base * factor(scheduler.last_epoch)
        history = list(ckpt.get("history", []))
        start_epoch = int(ckpt["epoch"]) + 1
    cache = cache if cache is not None else VideoFrameCache()
    preload = config.preload
    train_data = _FrameBatches(
        rows,
        config.size,
        device,
        preload=preload,
        num_workers=config.num_workers,
        cache=cache,
        desc="decode train",
        show_progress=show_progress,
    )
    val_data = (
        _FrameBatches(
            val_rows,
            config.size,
            device,
            preload=preload,
            num_workers=config.num_workers,
            cache=cache,
            desc="decode val",
            show_progress=show_progress,
        )
        if val_rows
        else None
    )
    if ckpt is not None and "rng" in ckpt:
        restore_rng_state(ckpt["rng"])
    augment = LUSAugment() if config.augment else None
    out_path = config.output_folder(out_dir)
    steps = train_data.num_batches(config.batch_size)
    best_f1 = max((h.get("val_f1_weighted", -1.0) for h in history), default=-1.0)
    last_ckpt = best_ckpt = None
    if out_path is not None and (out_path / "best.pt").exists() and ckpt is not None:
        best_ckpt = out_path / "best.pt"
    confusion = None
    cancelled = False
    amp = config.amp
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        order = _epoch_order(
            train_data.labels, balanced=config.balanced_sampling, seed=config.seed, epoch=epoch
        )
        try:
            record: dict[str, Any] = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
            record.update(
                train_one_epoch(
                    model,
                    criterion,
                    optimizer,
                    train_data.batches(order, config.batch_size),
                    device,
                    epoch=epoch,
                    epochs=config.epochs,
                    steps=steps,
                    augment=augment,
                    amp=amp,
                    channels_last=use_cl,
                    grad_clip=config.grad_clip,
                    progress_callback=progress_callback,
                    should_stop=should_stop,
                    show_progress=show_progress,
                )
            )
        except _Cancelled:
            cancelled = True
            break
        if scheduler is not None:
            scheduler.step()
        if val_data is not None:
            val_metrics, confusion, _, _ = evaluate(
                model,
                criterion,
                val_data.batches(torch.arange(len(val_data)), config.batch_size),
                device,
                num_classes=config.num_classes,
                amp=amp,
                channels_last=use_cl,
            )
            record.update(val_metrics)
            if progress_callback is not None:
                progress_callback(
                    TrainProgress("val", epoch, config.epochs, steps, steps, record["train_loss"], record)
                )
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        if out_path is not None:
            last_ckpt = save_checkpoint(
                out_path / "checkpoint.pt",
                model=model,
                epoch=epoch,
                config=config.to_dict(),
                history=history,
                optimizer=optimizer,
                scheduler=scheduler,
            )
            if val_data is not None and record["val_f1_weighted"] > best_f1:
                best_f1 = record["val_f1_weighted"]
                best_ckpt = save_checkpoint(
                    out_path / "best.pt",
                    model=model,
                    epoch=epoch,
                    config=config.to_dict(),
                    history=history,
                    rng=False,
                )
        if progress_callback is not None:
            progress_callback(
                TrainProgress("epoch", epoch, config.epochs, steps, steps, record["train_loss"], record)
            )
    model.eval()
    metrics = dict(history[-1]) if history else {}
    metrics.update({"model": config.model, "epochs_completed": len(history), "cancelled": cancelled})
    report: dict[str, Path] = {}
    if out_path is not None and history:
        from ml.metrics import write_report

        report = write_report(out_path, metrics=metrics, confusion=confusion, history=history)
        if last_ckpt is None and (out_path / "checkpoint.pt").exists():
            last_ckpt = out_path / "checkpoint.pt"
    return FrameTrainResult(
        model=model,
        history=history,
        metrics=metrics,
        confusion=confusion,
        checkpoint=last_ckpt,
        best_checkpoint=best_ckpt,
        report=report,
        cancelled=cancelled,
    )


# ----------------------------------------------------------------------------------------------------------
# aggregator


@dataclass
class AggregatorTrainConfig(TrainConfig):
    """Uninorm aggregator training configuration (see :func:`ml.aggregation.fit_aggregator`)."""

    num_classes: int = 4
    tnorm: str = "product"
    off_diagonal: str = "min"
    init_neutral: float = 0.5
    max_epochs: int = 500
    lr: float = 1e-2
    patience: int = 20
    sord_scale: float = 1.0
    seed: int = 0


@dataclass
class AggregatorTrainResult:
    """Outcome of :func:`train_aggregator`: the fitted aggregator, ``fit_aggregator``'s history, the
    video ids used (in order), the saved file (``aggregator.pt``) and report files."""

    aggregator: UninormAggregator
    history: dict[str, Any]
    videos: list[str]
    path: Path | None = None
    report: dict[str, Path] = field(default_factory=dict)
    cancelled: bool = False


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


def train_aggregator(
    config: AggregatorTrainConfig | Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    video_labels: Mapping[str, int],
    *,
    out_dir: str | Path | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> AggregatorTrainResult:
    """Fit a :class:`ml.aggregation.UninormAggregator` on per-frame predictions of labelled videos.

    Args:
        config: :class:`AggregatorTrainConfig` or its dict form.
        predictions: per-frame rows with ``video``, ``frame`` and ``probs`` (as written by ``ml.predict``).
        video_labels: ``{video: score}``; videos without a label are skipped.
        out_dir: writes ``aggregator.pt`` (``{"config", "state_dict", "history"}``) and a report.
        progress_callback: :class:`TrainProgress` per aggregator epoch (``phase="train"``).
        should_stop: polled every epoch.

    Raises:
        ValueError: if no prediction has a label.
    """
    from ml.aggregation import UninormAggregator, fit_aggregator

    if not isinstance(config, AggregatorTrainConfig):
        config = AggregatorTrainConfig.from_dict(config)
    seed_everything(config.seed)
    grouped = group_predictions(predictions)
    videos = sorted(v for v in grouped if v in video_labels)
    if not videos:
        raise ValueError("no predicted video has a label")
    model = UninormAggregator(
        config.num_classes,
        tnorm=cast(TNorm, config.tnorm),
        off_diagonal=cast(OffDiagonal, config.off_diagonal),
        init_neutral=config.init_neutral,
    )
    labels = torch.tensor([video_labels[v] for v in videos], dtype=torch.long)

    def progress(epoch: int, loss: float) -> None:
        if should_stop is not None and should_stop():
            raise _Cancelled
        if progress_callback is not None:
            progress_callback(
                TrainProgress("train", epoch, config.max_epochs, epoch, config.max_epochs, loss)
            )

    cancelled = False
    try:
        history = fit_aggregator(
            model,
            [grouped[v] for v in videos],
            labels,
            max_epochs=config.max_epochs,
            lr=config.lr,
            patience=config.patience,
            sord_scale=config.sord_scale,
            progress=progress,
        )
    except _Cancelled:
        cancelled, history = True, {}
    model.eval()
    path = None
    report: dict[str, Path] = {}
    if out_dir is not None and not cancelled:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "aggregator.pt"
        torch.save(
            {
                "config": config.to_dict(),
                "state_dict": model.state_dict(),
                "history": history.get("records", []),
            },
            path,
        )
        from ml.metrics import write_report

        summary = {
            "num_videos": len(videos),
            "best_epoch": history.get("best_epoch"),
            "best_loss": history.get("best_loss"),
            "neutral": model.neutral_elements().detach().tolist(),
            "config": config.to_dict(),
        }
        report = write_report(out, metrics=summary, history=history.get("records", []))
    return AggregatorTrainResult(
        aggregator=model, history=history, videos=videos, path=path, report=report, cancelled=cancelled
    )


def load_aggregator(path: str | Path) -> UninormAggregator:
    """Load an ``aggregator.pt`` written by :func:`train_aggregator` (eval mode)."""
    from ml.aggregation import UninormAggregator

    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    cfg = AggregatorTrainConfig.from_dict(blob["config"])
    model = UninormAggregator(cfg.num_classes, tnorm=cast(TNorm, cfg.tnorm),
                              off_diagonal=cast(OffDiagonal, cfg.off_diagonal))
    model.load_state_dict(blob["state_dict"])
    return model.eval()


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


# ----------------------------------------------------------------------------------------------------------
# CLI


def build_parser() -> argparse.ArgumentParser:
    from ml.models import list_models

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

    v = sub.add_parser("video", help="train a CNN-LSTM video scorer on a manifest")
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


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "frame":
        return _main_frame(args)
    if args.command == "segmentation":
        from ml.train_segmentation import SEGMENTATION_MEMBERS, run_cli

        args.models = args.models or list(SEGMENTATION_MEMBERS)
        return run_cli(args)
    if args.command == "video":
        from ml.train_video import run_cli as run_video

        return run_video(args)
    return _main_aggregator(args)


if __name__ == "__main__":
    sys.exit(main())
