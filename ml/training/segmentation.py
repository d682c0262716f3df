"""Training and evaluation of the marker-segmentation ensemble (paper §IV-C).

Programmatic API (what the platform's ``segmentation`` jobs call)::

    result = train_segmentation(SegTrainConfig(epochs=30), samples, val_samples=val, out_dir="runs/seg",
                                progress_callback=on_progress, should_stop=is_cancelled)
    result.metrics["val"]["ensemble"]     # pixel accuracy, union / categorical Dice (Table IV)

Inference (masks and MC-dropout uncertainty at frame resolution) is :func:`ml.inference.segment_images`.

Each member (default: ``unet_roy``, ``unet_plusplus``, ``deeplabv3_plus``) trains in turn with pixel-wise
cross-entropy, Adam, batches of 32 balanced across patients and scores and the joint augmentation of
:class:`ml.data.SegAugment`; members checkpoint every epoch under ``out_dir/members/<name>/`` so an
interrupted job resumes where it stopped. The ensemble (:class:`ml.models.SegmentationEnsemble`, registry
name ``seg_ensemble``) is saved as one checkpoint ``out_dir/checkpoint.pt`` that
:func:`ml.checkpoint.model_from_checkpoint` rebuilds, next to ``metrics.json`` (validation metrics and the
per-member, per-epoch ``history``). Progress epochs count across members (member ``i``'s
epoch ``e`` is ``i * epochs + e``).

CLI: ``python -m ml.train segmentation --manifest M --out DIR`` (rows with ``image`` and ``mask``; see
:func:`ml.data.samples_from_manifest`).
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
from ml.data import (
    SEG_SIZE,
    SegAugment,
    SegmentationSample,
    balanced_order,
    load_samples,
    mask_score,
    uint8_to_float,
)
from ml.models import (
    NUM_SEG_CLASSES,
    PRETRAINED_SEGMENTERS,
    SEGMENTATION_MEMBERS,
    SegmentationEnsemble,
    get_model_spec,
)
from ml.models.encoders import check_encoder_args
from ml.utils import autocast_context, pick_device, seed_everything

from .common import ProgressCallback, StopCallback, TrainConfig, TrainingCancelled, TrainProgress

__all__ = [
    "SegTrainConfig",
    "SegTrainResult",
    "evaluate_segmenters",
    "flat_metrics",
    "train_segmentation",
]


@dataclass
class SegTrainConfig(TrainConfig):
    """Segmentation-ensemble training configuration (JSON-serialisable; stored in the checkpoint).

    ``model_kwargs`` maps a member name to its constructor arguments (e.g. a small encoder in tests).
    ``steps_per_epoch`` ``None`` means ``ceil(N / batch_size)``. ``max_time_s`` caps each member's training
    time (stopping at a batch boundary; the partial epoch counts). ``mc_samples`` and ``predict_frame_step``
    are inference settings kept with the model. ``encoder``/``pretrained`` (e.g. ``"efficientnet_lite0"``,
    ``"imagenet"``: offline ImageNet weights) go to the members smp builds (``PRETRAINED_SEGMENTERS``: U-Net++
    and DeepLabV3+; the paper's U-Net keeps its own encoder) unless their ``model_kwargs`` say otherwise.
    """

    models: list[str] = field(default_factory=lambda: list(SEGMENTATION_MEMBERS))
    model_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    num_classes: int = NUM_SEG_CLASSES
    epochs: int = 10
    batch_size: int = 32
    steps_per_epoch: int | None = None
    size: tuple[int, int] = SEG_SIZE
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    augment: bool = True
    balanced_sampling: bool = True
    amp: bool = True
    grad_clip: float | None = 5.0
    max_time_s: float | None = None
    mc_samples: int = 40
    predict_frame_step: int = 1
    encoder: str | None = None
    pretrained: str | None = None

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        self.models = [str(m) for m in self.models]
        self.model_kwargs = {str(k): dict(v) for k, v in dict(self.model_kwargs).items()}
        if not self.models or len(set(self.models)) != len(self.models):
            raise ValueError(f"models must name distinct segmenters, got {self.models}")
        for name in self.models:
            if name == "seg_ensemble":
                raise ValueError("the ensemble is built from its members; list the members in models")
            get_model_spec(name, "segmentation")
        extra = set(self.model_kwargs) - set(self.models)
        if extra:
            raise ValueError(f"model_kwargs for models not trained: {', '.join(sorted(extra))}")
        self._check_positive("epochs", "batch_size", "predict_frame_step")
        if self.steps_per_epoch is not None:
            self._check_positive("steps_per_epoch")
        self._check_network_basics(min_side=16)
        if self.mc_samples < 0 or self.mc_samples == 1:
            raise ValueError(f"mc_samples must be 0 or >= 2, got {self.mc_samples}")
        if self.encoder is not None or self.pretrained is not None:
            if self.encoder is None:
                raise ValueError("pretrained needs encoder (e.g. encoder='efficientnet_lite0')")
            check_encoder_args(self.encoder, self.pretrained)
            if not set(self.models) & set(PRETRAINED_SEGMENTERS):
                raise ValueError(f"encoder applies to {', '.join(PRETRAINED_SEGMENTERS)}; none is trained")

    def member_specs(self) -> list[dict[str, Any]]:
        """``[{"model", "model_kwargs"}]`` of the members (what the ensemble checkpoint stores)."""
        return [{"model": m, "model_kwargs": {"num_classes": self.num_classes, **self._encoder_kwargs(m),
                                              **self.model_kwargs.get(m, {})}} for m in self.models]

    def _encoder_kwargs(self, member: str) -> dict[str, Any]:
        if self.encoder is None or member not in PRETRAINED_SEGMENTERS:
            return {}
        return {"encoder": self.encoder, "pretrained": self.pretrained}



@dataclass
class SegTrainResult:
    """Outcome of :func:`train_segmentation`.

    Attributes:
        ensemble: the members in eval mode, as one :class:`SegmentationEnsemble`.
        history: per-member, per-epoch records (``member``, ``epoch``, ``train_loss`` ...).
        metrics: ``{"val": {name: Table IV metrics, ..., "ensemble": ...}}`` when validation samples were
            given, plus the final training losses.
        checkpoint: ``out_dir/checkpoint.pt`` (the ensemble), ``None`` without ``out_dir`` or when cancelled.
        cancelled: ``should_stop`` ended training.
    """

    ensemble: SegmentationEnsemble
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    checkpoint: Path | None = None
    cancelled: bool = False


def _train_member(
    name: str,
    index: int,
    config: SegTrainConfig,
    data: tuple[torch.Tensor, torch.Tensor],
    patients: Sequence[str],
    scores: Sequence[int],
    device: torch.device,
    folder: Path | None,
    progress_callback: ProgressCallback | None,
    should_stop: StopCallback | None,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    spec = get_model_spec(name, "segmentation")
    kwargs = config.member_specs()[index]["model_kwargs"]
    seed_everything(config.seed + index)
    model = spec.build(**kwargs).to(device)
    criterion = spec.build_loss().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    path = folder / "checkpoint.pt" if folder is not None else None
    if path is not None and path.is_file():
        ckpt = load_checkpoint(path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history = list(ckpt.get("history", []))
        start_epoch = int(ckpt["epoch"]) + 1
        if "rng" in ckpt:
            restore_rng_state(ckpt["rng"])
        if ckpt.get("extra", {}).get("finished"):
            start_epoch = config.epochs + 1
    frames, masks = data
    n = frames.shape[0]
    steps = config.steps_per_epoch or math.ceil(n / config.batch_size)
    augment = SegAugment() if config.augment else None
    total_epochs = config.epochs * len(config.models)
    t_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        count = steps * config.batch_size
        if config.balanced_sampling:
            order = balanced_order(patients, scores, count, seed=config.seed + index, epoch=epoch)
        else:
            g = torch.Generator().manual_seed((config.seed + index) * 100_003 + epoch)
            order = torch.cat([torch.randperm(n, generator=g) for _ in range(math.ceil(count / n))])[:count]
        model.train()
        loss_sum, seen, out_of_time = 0.0, 0, False
        global_epoch = index * config.epochs + epoch
        for step in range(1, steps + 1):
            if should_stop is not None and should_stop():
                raise TrainingCancelled
            pick = order[(step - 1) * config.batch_size : step * config.batch_size].to(frames.device)
            x, y = uint8_to_float(frames.index_select(0, pick)).to(device), masks.index_select(0, pick).to(device)
            if augment is not None:
                x, y = augment(x, y)
            with autocast_context(device, config.amp):
                loss = criterion(model(x).float(), y.long())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            loss_sum += float(loss.detach()) * len(pick)
            seen += len(pick)
            if progress_callback is not None:
                progress_callback(TrainProgress("train", global_epoch, total_epochs, step, steps, loss_sum / seen))
            if config.max_time_s is not None and time.perf_counter() - t_start > config.max_time_s:
                out_of_time = True
                break
        record: dict[str, Any] = {"member": name, "epoch": global_epoch, "member_epoch": epoch, "train_loss": loss_sum / max(seen, 1),
                  "steps": step, "time_s": time.perf_counter() - t0}
        history.append(record)
        finished = out_of_time or epoch == config.epochs
        if path is not None:
            save_checkpoint(path, model=model, epoch=epoch, config=config.to_dict(), history=history,
                            optimizer=optimizer, extra={"finished": finished})
        if progress_callback is not None:
            progress_callback(TrainProgress("epoch", global_epoch, total_epochs, steps, steps, record["train_loss"], record))
        if out_of_time:
            break
    return model.eval(), history


@torch.no_grad()
def evaluate_segmenters(
    ensemble: SegmentationEnsemble,
    frames: torch.Tensor,
    masks: torch.Tensor,
    *,
    names: Sequence[str] | None = None,
    batch_size: int = 8,
) -> dict[str, dict[str, Any]]:
    """Table IV metrics of every member and of the ensemble on letterboxed uint8 ``frames (N, 1, h, w)`` and
    ``masks (N, h, w)``: ``{member name: metrics, "ensemble": metrics}`` (pooled over all pixels)."""
    from ml.metrics import segmentation_metrics

    ensemble.eval()
    device = next(ensemble.parameters()).device
    names = list(names) if names is not None else [f"member_{i}" for i in range(len(ensemble.members))]
    preds: list[list[torch.Tensor]] = [[] for _ in range(len(names) + 1)]
    for start in range(0, frames.shape[0], batch_size):
        x = uint8_to_float(frames[start : start + batch_size]).to(device)
        with autocast_context(device):
            probs = [torch.softmax(m(x).float(), 1) for m in ensemble.members]
        for i, p in enumerate(probs):
            preds[i].append(p.argmax(1).cpu())
        preds[-1].append(torch.stack(probs).mean(0).argmax(1).cpu())
    truth = masks.numpy()
    return {name: segmentation_metrics(torch.cat(p).numpy(), truth, ensemble.num_classes)
            for name, p in zip([*names, "ensemble"], preds, strict=True)}


def train_segmentation(
    config: SegTrainConfig | Mapping[str, Any],
    samples: Sequence[SegmentationSample],
    *,
    val_samples: Sequence[SegmentationSample] | None = None,
    out_dir: str | Path | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> SegTrainResult:
    """Train every member of the ensemble on ``samples`` and evaluate them (and the ensemble) on
    ``val_samples``.

    Raises:
        ValueError: on an invalid config or no sample.
        FileNotFoundError: if a frame or mask file is missing.
    """
    if not isinstance(config, SegTrainConfig):
        config = SegTrainConfig.from_dict(config)
    device = pick_device(config.device)
    frames, masks = load_samples(samples, config.size)
    scores = [mask_score(m) for m in masks.numpy()]
    patients = [s.patient for s in samples]
    if device.type == "cuda":
        frames, masks = frames.to(device), masks.to(device)
    out_path = config.output_folder(out_dir)
    members: list[nn.Module] = []
    history: list[dict[str, Any]] = []
    try:
        for i, name in enumerate(config.models):
            folder = out_path / "members" / name if out_path is not None else None
            model, member_history = _train_member(name, i, config, (frames, masks), patients, scores, device, folder,
                                                  progress_callback, should_stop)
            members.append(model)
            history += member_history
    except TrainingCancelled:
        return SegTrainResult(ensemble=SegmentationEnsemble(members) if members else _empty(config),
                              history=history, metrics={"cancelled": True}, cancelled=True)
    ensemble = SegmentationEnsemble(members).to(device).eval()
    metrics: dict[str, Any] = {"train_loss": {h["member"]: h["train_loss"] for h in history}}
    if val_samples:
        val_frames, val_masks = load_samples(val_samples, config.size)
        metrics["val"] = evaluate_segmenters(ensemble, val_frames, val_masks, names=config.models)
        if progress_callback is not None:
            last = len(config.models) * config.epochs
            progress_callback(TrainProgress("val", last, last, 0, 0, float("nan"), {"epoch": last, **flat_metrics(metrics["val"])}))
    checkpoint = None
    if out_path is not None:
        checkpoint = save_checkpoint(
            out_path / "checkpoint.pt", model=ensemble, epoch=config.epochs, history=history, rng=False,
            config={**config.to_dict(), "model": "seg_ensemble", "model_kwargs": {"members": config.member_specs()}},
            extra={"metrics": flat_metrics(metrics.get("val", {}))},
        )
        from ml.metrics import write_report

        write_report(out_path, metrics={**metrics, "history": history}, history=history)
    return SegTrainResult(ensemble=ensemble, history=history, metrics=metrics, checkpoint=checkpoint)


def _empty(config: SegTrainConfig) -> SegmentationEnsemble:
    return SegmentationEnsemble(config.member_specs()[:1])


def flat_metrics(val: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """``{"<model>_<metric>": value}`` for progress records (per-class Dice left out)."""
    return {f"{name}_{k}": float(v) for name, m in val.items() for k, v in m.items() if isinstance(v, float)}
