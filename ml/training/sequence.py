"""Training of the sequence models: CNN-LSTM video scorers (``densenet_lstm``, ``xception_lstm``).

Programmatic API (what the platform's CNN-LSTM jobs call)::

    result = train_sequence_model(SequenceTrainConfig(model="xception_lstm", window=20), rows,
                                  video_labels={"v1": 2, ...}, out_dir="runs/v",
                                  progress_callback=on_progress, should_stop=is_cancelled)

Training samples are windows of ``window`` consecutive frames (``stride`` apart); per-frame models learn
every frame's label, per-video models the video's label. Windows are drawn class-balanced (by the video
label, or the window's highest frame label) and every epoch is a pure function of ``(seed, epoch)``;
checkpoints (:mod:`ml.checkpoint`) hold model, optimizer, scheduler and RNG states, so ``resume`` works as
for the frame scorer. Progress reports are :class:`ml.training.TrainProgress`.

Inference (:func:`ml.inference.predict_sequence_rows`) tiles each video with windows; validation here scores
videos the same way.

CLI: ``python -m ml.train sequence --manifest M --model xception_lstm --out DIR`` (see :mod:`ml.train`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ml.checkpoint import load_checkpoint, restore_rng_state, save_checkpoint
from ml.data import ClipSet, LUSAugment, ManifestRow, VideoFrameCache, build_clip_set
from ml.inference.sequence import predict_clips
from ml.losses.sequence import IGNORE_INDEX
from ml.models import get_model_spec
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
    "SequenceTrainConfig",
    "SequenceTrainResult",
    "evaluate_sequence_model",
    "train_sequence_model",
]


@dataclass
class SequenceTrainConfig(TrainConfig):
    """CNN-LSTM training configuration (JSON-serialisable; stored in every checkpoint).

    ``reconstruction_weight`` ``None`` takes the registry's value (1 for ``densenet_lstm``, 0 otherwise).
    ``max_time_s`` stops training after that many seconds (at a batch boundary; the partial epoch counts).
    """

    model: str = "xception_lstm"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    num_classes: int = NUM_SCORES
    window: int = 20
    stride: int = 10
    epochs: int = 10
    batch_size: int = 8
    size: tuple[int, int] = (224, 224)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    seed: int = 0
    device: str = "auto"
    augment: bool = False
    balanced_sampling: bool = True
    reconstruction_weight: float | None = None
    amp: bool = True
    grad_clip: float | None = 5.0
    max_time_s: float | None = None

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        self.model_kwargs = dict(self.model_kwargs)
        get_model_spec(self.model, "sequence")
        self._check_positive("window", "stride", "epochs", "batch_size")
        self._check_network_basics(min_side=32)

    @property
    def per_frame(self) -> bool:
        """Whether the model scores every frame (else one score per window)."""
        return bool(getattr(get_model_spec(self.model).factory, "per_frame", False))



@dataclass
class SequenceTrainResult:
    """Outcome of :func:`train_sequence_model` (``metrics``: the last epoch's record, validation included)."""

    model: nn.Module
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    checkpoint: Path | None = None
    cancelled: bool = False


def _window_targets(clips: ClipSet, owners: torch.Tensor, indices: torch.Tensor, per_frame: bool) -> torch.Tensor:
    return clips.window_frame_labels(owners, indices) if per_frame else clips.video_labels[owners]


def _balance_labels(targets: torch.Tensor) -> torch.Tensor:
    """One class per window for balanced sampling: the label, or a per-frame window's highest label."""
    return targets.max(1).values if targets.ndim == 2 else targets


def evaluate_sequence_model(
    model: nn.Module, clips: ClipSet, *, window: int, batch_size: int = 8, prefix: str = "val_"
) -> dict[str, float]:
    """Video weighted F1 / accuracy (videos with a label) and, for per-frame models, frame weighted F1."""
    from ml.metrics import frame_f1, video_metrics

    frame_probs, video_probs = predict_clips(model, clips, window=window, batch_size=batch_size)
    out: dict[str, float] = {}
    vt = clips.video_labels.numpy()
    keep = vt != IGNORE_INDEX
    if keep.any():
        m = video_metrics(vt[keep], video_probs.argmax(1)[keep])
        out.update({f"{prefix}video_f1_weighted": m["f1"], f"{prefix}video_accuracy": m["accuracy"]})
    if frame_probs is not None:
        ft = clips.frame_labels.numpy()
        fk = ft != IGNORE_INDEX
        if fk.any():
            out[f"{prefix}f1_weighted"] = frame_f1(ft[fk], frame_probs.argmax(1)[fk])
    return out


def train_sequence_model(
    config: SequenceTrainConfig | Mapping[str, Any],
    rows: Sequence[ManifestRow],
    *,
    video_labels: Mapping[str, int] | None = None,
    val_rows: Sequence[ManifestRow] | None = None,
    val_video_labels: Mapping[str, int] | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    cache: VideoFrameCache | None = None,
) -> SequenceTrainResult:
    """Train a registered CNN-LSTM on the frames of ``rows`` (grouped into videos).

    Args:
        config: :class:`SequenceTrainConfig` or its dict form.
        rows: frames (per-frame models need frame scores; per-video models video labels).
        video_labels: ``{video: score}``; default: max frame score of fully labelled videos.
        val_rows, val_video_labels: evaluated after every epoch.
        out_dir: ``checkpoint.pt`` every epoch, ``config.json``, and at the end ``metrics.json`` (the final
            metrics and the per-epoch ``history``) with PNG curves.
        resume: checkpoint to continue from (the stored configuration wins but for epochs and device).
        progress_callback, should_stop: as :func:`ml.training.train_frame_scorer`.
        cache: shared :class:`VideoFrameCache`.

    Raises:
        ValueError: on an invalid config, or no labelled window.
    """
    if not isinstance(config, SequenceTrainConfig):
        config = SequenceTrainConfig.from_dict(config)
    ckpt = load_checkpoint(resume) if resume is not None else None
    if ckpt is not None:
        config = config.resumed(ckpt)
    seed_everything(config.seed)
    device = pick_device(config.device)
    spec = get_model_spec(config.model, "sequence")
    model = spec.build(num_classes=config.num_classes, **config.model_kwargs).to(device)
    per_frame = bool(getattr(model, "per_frame", False))
    loss_overrides = {} if config.reconstruction_weight is None else {"reconstruction_weight": config.reconstruction_weight}
    criterion = spec.build_loss(**loss_overrides).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config.scheduler, config.epochs)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if ckpt is not None:
        history, start_epoch = restore_training_state(ckpt, model, optimizer, scheduler, config.epochs)
    cache = cache if cache is not None else VideoFrameCache()
    clips = build_clip_set(rows, config.size, video_labels=video_labels, cache=cache)
    val = build_clip_set(val_rows, config.size, video_labels=val_video_labels, cache=cache) if val_rows else None
    owners, indices = clips.windows(config.window, config.stride)
    targets = _window_targets(clips, owners, indices, per_frame)
    labelled = (targets != IGNORE_INDEX).any(1) if targets.ndim == 2 else targets != IGNORE_INDEX
    owners, indices, targets = owners[labelled], indices[labelled], targets[labelled]
    if len(owners) == 0:
        raise ValueError("no labelled window: per-frame models need frame scores, per-video models video labels")
    if ckpt is not None and "rng" in ckpt:
        restore_rng_state(ckpt["rng"])
    augment = LUSAugment() if config.augment else None
    out_path = config.output_folder(out_dir)
    steps = math.ceil(len(owners) / config.batch_size)
    last_ckpt: Path | None = None
    cancelled = out_of_time = False
    t_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        order = epoch_order(_balance_labels(targets), balanced=config.balanced_sampling, seed=config.seed, epoch=epoch)
        model.train()
        sums = {"total": 0.0, "classification": 0.0, "reconstruction": 0.0}
        seen = 0
        out_of_time = False
        try:
            for step, start in enumerate(range(0, len(order), config.batch_size), start=1):
                if should_stop is not None and should_stop():
                    raise TrainingCancelled
                pick = order[start : start + config.batch_size]
                x = clips.window_inputs(indices[pick], device)
                if augment is not None:
                    b, t = x.shape[:2]
                    x = augment(x.view(b * t, *x.shape[2:])).view_as(x)
                y = targets[pick].to(device)
                with autocast_context(device, config.amp):
                    parts = criterion(model(x), y, x)
                optimizer.zero_grad(set_to_none=True)
                parts.total.backward()
                if config.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                seen += len(pick)
                for name, value in parts._asdict().items():
                    sums[name] += float(value.detach()) * len(pick)
                if progress_callback is not None:
                    progress_callback(TrainProgress("train", epoch, config.epochs, step, steps, sums["total"] / seen))
                if config.max_time_s is not None and time.perf_counter() - t_start > config.max_time_s:
                    out_of_time = True
                    break
        except TrainingCancelled:
            cancelled = True
            break
        if scheduler is not None:
            scheduler.step()
        record: dict[str, Any] = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                                  **{f"train_{k}" if k != "total" else "train_loss": v / max(seen, 1)
                                     for k, v in sums.items()}}
        if val is not None:
            record.update(evaluate_sequence_model(model, val, window=config.window, batch_size=config.batch_size))
            if progress_callback is not None:
                progress_callback(TrainProgress("val", epoch, config.epochs, steps, steps, record["train_loss"], record))
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        if out_path is not None:
            last_ckpt = save_checkpoint(out_path / "checkpoint.pt", model=model, epoch=epoch, config=config.to_dict(),
                                        history=history, optimizer=optimizer, scheduler=scheduler)
        if progress_callback is not None:
            progress_callback(TrainProgress("epoch", epoch, config.epochs, steps, steps, record["train_loss"], record))
        if out_of_time:
            break
    model.eval()
    metrics = dict(history[-1]) if history else {}
    metrics.update({"model": config.model, "epochs_completed": len(history), "cancelled": cancelled,
                    "stopped_at_time_limit": out_of_time, "train_windows": len(owners)})
    if last_ckpt is None and out_path is not None and (out_path / "checkpoint.pt").exists():
        last_ckpt = out_path / "checkpoint.pt"
    if out_path is not None and history:
        from ml.metrics import write_report

        write_report(out_path, metrics={**metrics, "history": history}, history=history)
    return SequenceTrainResult(model=model, history=history, metrics=metrics, checkpoint=last_ckpt, cancelled=cancelled)
