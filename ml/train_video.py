"""Training and inference of the CNN-LSTM video scorers (``densenet_lstm``, ``xception_lstm``).

Programmatic API (what the platform's ``cnn_lstm`` jobs call)::

    result = train_video_model(VideoTrainConfig(model="xception_lstm", window=20), rows,
                               video_labels={"v1": 2, ...}, out_dir="runs/v",
                               progress_callback=on_progress, should_stop=is_cancelled)
    frames, videos = predict_video_rows(result.model, rows, size=(224, 224), window=20)

Training samples are windows of ``window`` consecutive frames (``stride`` apart); per-frame models learn
every frame's label, per-video models the video's label. Windows are drawn class-balanced (by the video
label, or the window's highest frame label) and every epoch is a pure function of ``(seed, epoch)``;
checkpoints (:mod:`ml.checkpoint`) hold model, optimizer, scheduler and RNG states, so ``resume`` works as
for the frame scorer. Progress reports are :class:`ml.train.TrainProgress`.

Inference tiles each video with windows (stride = window, the last one ending on the last frame): a
per-frame model's frame probabilities are averaged over the windows holding the frame and the video's
probabilities are the mean over its frames (``argmax_mean``); a per-video model's video probabilities are
the mean of its windows' softmax.

CLI: ``python -m ml.train video --manifest M --model xception_lstm --out DIR`` (see :mod:`ml.train`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.checkpoint import load_checkpoint, restore_rng_state, save_checkpoint
from ml.data import LUSAugment, ManifestRow, VideoFrameCache
from ml.data.clips import ClipSet, build_clip_set
from ml.losses.sequence import IGNORE_INDEX
from ml.models import SequenceScorerOutput, get_model_spec
from ml.train import (
    ProgressCallback,
    StopCallback,
    TrainConfig,
    TrainProgress,
    _Cancelled,
    _CosineFactor,
    _epoch_order,
)
from ml.utils import autocast_context, pick_device, seed_everything

__all__ = [
    "VideoTrainConfig",
    "VideoTrainResult",
    "evaluate_video_model",
    "predict_clips",
    "predict_video_rows",
    "train_video_model",
]


@dataclass
class VideoTrainConfig(TrainConfig):
    """CNN-LSTM training configuration (JSON-serialisable; stored in every checkpoint).

    ``reconstruction_weight`` ``None`` takes the registry's value (1 for ``densenet_lstm``, 0 otherwise).
    ``max_time_s`` stops training after that many seconds (at a batch boundary; the partial epoch counts).
    """

    model: str = "xception_lstm"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    num_classes: int = 4
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
class VideoTrainResult:
    """Outcome of :func:`train_video_model` (``metrics``: the last epoch's record, validation included)."""

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


def _to_input(frames: torch.Tensor, indices: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = frames.index_select(0, indices.reshape(-1)).to(device).float().div_(127.5).sub_(1.0)
    return x.view(*indices.shape, *frames.shape[1:])


@torch.no_grad()
def predict_clips(
    model: nn.Module, clips: ClipSet, *, window: int, batch_size: int = 8, device: torch.device | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(frame probabilities (N, C) or None for per-video models, video probabilities (V, C))``."""
    dev = device if device is not None else next(model.parameters()).device
    model.eval()
    owners, indices = clips.windows(window, window)
    n_frames, n_videos = clips.frames.shape[0], len(clips.videos)
    frame_sum: torch.Tensor | None = None
    counts = torch.zeros(n_frames)
    video_sum: torch.Tensor | None = None
    video_n = torch.zeros(n_videos)
    for start in range(0, len(owners), batch_size):
        idx = indices[start : start + batch_size]
        with autocast_context(dev):
            out: SequenceScorerOutput = model(_to_input(clips.frames, idx, dev))
        probs = out.probs().cpu()
        if out.per_frame:
            if frame_sum is None:
                frame_sum = torch.zeros(n_frames, probs.shape[-1])
            keep = torch.ones_like(idx, dtype=torch.bool)
            keep[:, 1:] = idx[:, 1:] != idx[:, :-1]  # repeated padding frames count once
            frame_sum.index_add_(0, idx[keep], probs[keep])
            counts.index_add_(0, idx[keep], torch.ones(int(keep.sum())))
        else:
            if video_sum is None:
                video_sum = torch.zeros(n_videos, probs.shape[-1])
            own = owners[start : start + batch_size]
            video_sum.index_add_(0, own, probs)
            video_n.index_add_(0, own, torch.ones(len(own)))
    if frame_sum is not None:
        frame_probs = frame_sum / counts.clamp(min=1)[:, None]
        videos = torch.stack([frame_probs[s : s + n].mean(0) for s, n in zip(clips.starts, clips.lengths, strict=True)])
        return frame_probs.numpy(), videos.numpy()
    assert video_sum is not None
    return None, (video_sum / video_n.clamp(min=1)[:, None]).numpy()


def evaluate_video_model(
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


def train_video_model(
    config: VideoTrainConfig | Mapping[str, Any],
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
) -> VideoTrainResult:
    """Train a registered CNN-LSTM on the frames of ``rows`` (grouped into videos).

    Args:
        config: :class:`VideoTrainConfig` or its dict form.
        rows: frames (per-frame models need frame scores; per-video models video labels).
        video_labels: ``{video: score}``; default: max frame score of fully labelled videos.
        val_rows, val_video_labels: evaluated after every epoch.
        out_dir: ``checkpoint.pt`` every epoch and ``config.json``.
        resume: checkpoint to continue from (the stored configuration wins but for epochs and device).
        progress_callback, should_stop: as :func:`ml.train.train_frame_scorer`.
        cache: shared :class:`VideoFrameCache`.

    Raises:
        ValueError: on an invalid config, or no labelled window.
    """
    if not isinstance(config, VideoTrainConfig):
        config = VideoTrainConfig.from_dict(config)
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        stored = VideoTrainConfig.from_dict(ckpt["config"])
        if stored.model != config.model:
            raise ValueError(f"resume checkpoint holds model {stored.model!r}, config asks for {config.model!r}")
        stored.epochs, stored.device = config.epochs, config.device
        config = stored
    seed_everything(config.seed)
    device = pick_device(config.device)
    spec = get_model_spec(config.model, "sequence")
    model = spec.build(num_classes=config.num_classes, **config.model_kwargs).to(device)
    per_frame = bool(getattr(model, "per_frame", False))
    loss_overrides = {} if config.reconstruction_weight is None else {"reconstruction_weight": config.reconstruction_weight}
    criterion = spec.build_loss(**loss_overrides).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, _CosineFactor(config.epochs))
                 if config.scheduler == "cosine" else None)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and "scheduler" in ckpt:
            scheduler.load_state_dict(ckpt["scheduler"])
            factor = _CosineFactor(config.epochs)
            scheduler.lr_lambdas = [factor for _ in optimizer.param_groups]
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
                group["lr"] = base * factor(scheduler.last_epoch)
        history = list(ckpt.get("history", []))
        start_epoch = int(ckpt["epoch"]) + 1
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
    cancelled = False
    t_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        order = _epoch_order(_balance_labels(targets), balanced=config.balanced_sampling, seed=config.seed, epoch=epoch)
        model.train()
        sums = {"total": 0.0, "classification": 0.0, "reconstruction": 0.0}
        seen = 0
        out_of_time = False
        try:
            for step, start in enumerate(range(0, len(order), config.batch_size), start=1):
                if should_stop is not None and should_stop():
                    raise _Cancelled
                pick = order[start : start + config.batch_size]
                x = _to_input(clips.frames, indices[pick], device)
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
        except _Cancelled:
            cancelled = True
            break
        if scheduler is not None:
            scheduler.step()
        record: dict[str, Any] = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                                  **{f"train_{k}" if k != "total" else "train_loss": v / max(seen, 1)
                                     for k, v in sums.items()}}
        if val is not None:
            record.update(evaluate_video_model(model, val, window=config.window, batch_size=config.batch_size))
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
                    "train_windows": len(owners)})
    if last_ckpt is None and out_path is not None and (out_path / "checkpoint.pt").exists():
        last_ckpt = out_path / "checkpoint.pt"
    return VideoTrainResult(model=model, history=history, metrics=metrics, checkpoint=last_ckpt, cancelled=cancelled)


def predict_video_rows(
    model: nn.Module,
    rows: Sequence[ManifestRow],
    *,
    size: tuple[int, int],
    window: int,
    batch_size: int = 8,
    cache: VideoFrameCache | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score the videos of ``rows``: ``(frame rows, video rows)``.

    Frame rows (per-frame models only) are ``{"key", "patient", "video", "frame", "score", "probs", "pred",
    "extra"}`` in video / frame order; video rows ``{"video", "patient", "n_frames", "probs", "pred"}``.
    """
    clips = build_clip_set(rows, size, cache=cache)
    frame_probs, video_probs = predict_clips(model, clips, window=window, batch_size=batch_size)
    frames: list[dict[str, Any]] = []
    if frame_probs is not None:
        for row, p in zip(clips.rows, frame_probs, strict=True):
            frames.append({"key": row.key, "patient": row.patient, "video": row.video, "frame": row.frame,
                           "score": row.score, "probs": [round(float(v), 6) for v in p], "pred": int(p.argmax()),
                           "extra": dict(row.extra)})
    videos = [{"video": v, "patient": patient, "n_frames": n, "probs": [round(float(x), 6) for x in p],
               "pred": int(p.argmax())}
              for v, patient, n, p in zip(clips.videos, clips.patients, clips.lengths, video_probs, strict=True)]
    return frames, videos


def run_cli(args: Any) -> int:
    """``python -m ml.train video`` (arguments defined in :func:`ml.train.build_parser`)."""
    from ml.data import read_manifest
    from ml.train import load_video_labels

    labels = load_video_labels(args.labels) if args.labels else None
    config = VideoTrainConfig(model=args.model, model_kwargs=args.model_kwargs, window=args.window, stride=args.stride, epochs=args.epochs,
                              batch_size=args.batch_size, size=tuple(args.size), lr=args.lr, seed=args.seed,
                              device=args.device, augment=args.augment)
    result = train_video_model(config, read_manifest(args.manifest), video_labels=labels,
                               val_rows=read_manifest(args.val_manifest) if args.val_manifest else None,
                               val_video_labels=labels, out_dir=args.out, resume=args.resume)
    print(json.dumps({k: v for k, v in result.metrics.items() if isinstance(v, int | float | str | bool)}, indent=2))
    print(f"checkpoint: {result.checkpoint}")
    return 0
