"""Training of the frame scorers (any registered model of task ``"frame"``: Reg-STN and the Table I baselines).

Programmatic API (what the platform's ``frame_scorer`` jobs call)::

    result = train_frame_scorer(FrameTrainConfig(model="reg_stn", epochs=10), rows,
                                val_rows=val_rows, out_dir="runs/x",
                                progress_callback=on_progress, should_stop=is_cancelled)

Progress and cancellation: see :mod:`ml.training.common`. On CUDA, training uses bf16 autocast and
channels_last; frames are pre-decoded once into a uint8 tensor held on the training device
(``preload=True``) and augmented there, batch-wise.

CLI: ``python -m ml.train frame --manifest M --model reg_stn --out DIR`` (see :mod:`ml.train`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml.checkpoint import load_checkpoint, restore_rng_state, save_checkpoint
from ml.data import FrameDataset, LUSAugment, ManifestRow, VideoFrameCache, uint8_to_float
from ml.losses import DEFAULT_SORD_SCALE
from ml.models import FrameScorerOutput, get_model_spec
from ml.scores import NUM_SCORES
from ml.utils import autocast_context, pick_device, seed_everything

from .common import (
    ProgressCallback,
    StopCallback,
    TrainConfig,
    TrainingCancelled,
    TrainProgress,
    epoch_order,
    make_scheduler,
    restore_training_state,
)

__all__ = [
    "FrameTrainConfig",
    "FrameTrainResult",
    "evaluate",
    "train_frame_scorer",
    "train_one_epoch",
]


@dataclass
class FrameTrainConfig(TrainConfig):
    """Frame-scorer training configuration (JSON-serialisable; stored in every checkpoint).

    Defaults follow the public reference code (Adam, weight decay 1e-4, batch 64, class-balanced sampling,
    SORD sharpness 2, unit loss weights) except the learning rate (1e-3 instead of 1e-4: short runs) and the
    schedule (cosine over ``epochs`` instead of a step at epoch 70).
    """

    model: str = "reg_stn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    num_classes: int = NUM_SCORES
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
                x = uint8_to_float(self.frames.index_select(0, idx))
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
        TrainingCancelled: when ``should_stop()`` returns ``True``.
    """
    model.train()
    sums: dict[str, float] = defaultdict(float)
    n_seen, correct = 0, 0
    bar = tqdm(batches, total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not show_progress)
    for step, (x, y) in enumerate(bar, start=1):
        if should_stop is not None and should_stop():
            raise TrainingCancelled
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
    num_classes: int = NUM_SCORES,
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
    scheduler = make_scheduler(optimizer, config.scheduler, config.epochs)
    return model, criterion, optimizer, scheduler, use_cl


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
            ``config.json`` and the report (``metrics.json``: the final metrics and the per-epoch ``history``;
            PNG curves). ``None``: nothing is written.
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
    ckpt = load_checkpoint(resume) if resume is not None else None
    if ckpt is not None:
        config = config.resumed(ckpt)
    seed_everything(config.seed)
    device = pick_device(config.device)
    model, criterion, optimizer, scheduler, use_cl = _build(config, device)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if ckpt is not None:
        history, start_epoch = restore_training_state(ckpt, model, optimizer, scheduler, config.epochs)
    cache = cache if cache is not None else VideoFrameCache()

    def frame_batches(which: Sequence[ManifestRow], desc: str) -> _FrameBatches:
        return _FrameBatches(which, config.size, device, preload=config.preload, num_workers=config.num_workers,
                             cache=cache, desc=desc, show_progress=show_progress)

    train_data = frame_batches(rows, "decode train")
    val_data = frame_batches(val_rows, "decode val") if val_rows else None
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
        order = epoch_order(
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
        except TrainingCancelled:
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
            last_ckpt = save_checkpoint(out_path / "checkpoint.pt", model=model, epoch=epoch, config=config.to_dict(),
                                        history=history, optimizer=optimizer, scheduler=scheduler)
            if val_data is not None and record["val_f1_weighted"] > best_f1:
                best_f1 = record["val_f1_weighted"]
                best_ckpt = save_checkpoint(out_path / "best.pt", model=model, epoch=epoch, config=config.to_dict(),
                                            history=history, rng=False)
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

        report = write_report(out_path, metrics={**metrics, "history": history}, confusion=confusion,
                              history=history)
        if last_ckpt is None and (out_path / "checkpoint.pt").exists():
            last_ckpt = out_path / "checkpoint.pt"
    return FrameTrainResult(model=model, history=history, metrics=metrics, confusion=confusion, checkpoint=last_ckpt,
                            best_checkpoint=best_ckpt, report=report, cancelled=cancelled)
