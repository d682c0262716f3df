"""What every trainer shares: the configuration base, progress reports, cooperative cancellation, the
cosine schedule and the sample order of an epoch.

``progress_callback(p: TrainProgress)`` is called after every batch (``phase="train"``), after validation
(``phase="val"``) and at the end of every epoch (``phase="epoch"``, with the epoch's metrics);
``should_stop() -> bool`` is polled before every batch: when it returns ``True`` the trainer raises
:class:`TrainingCancelled` internally, discards the partial epoch and returns a result with
``cancelled=True`` (the last completed epoch's checkpoint stays on disk).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Self

import torch

__all__ = [
    "CosineFactor",
    "ProgressCallback",
    "StopCallback",
    "TrainConfig",
    "TrainProgress",
    "TrainingCancelled",
    "epoch_order",
    "make_scheduler",
    "restore_scheduler",
    "restore_training_state",
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


class TrainingCancelled(Exception):
    """``should_stop()`` returned ``True``; raised inside a training loop and caught by its trainer."""


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

    def resumed(self, checkpoint: Mapping[str, Any]) -> Self:
        """The configuration a run resumed from ``checkpoint`` continues with: the stored one, but for this
        configuration's epoch budget and device (the only two that may change on resume).

        Raises:
            ValueError: if the checkpoint holds another model.
        """
        stored = type(self).from_dict(checkpoint["config"])
        if stored.model != self.model:  # type: ignore[attr-defined]
            raise ValueError(f"resume checkpoint holds model {stored.model!r}, "  # type: ignore[attr-defined]
                             f"config asks for {self.model!r}")  # type: ignore[attr-defined]
        stored.epochs, stored.device = self.epochs, self.device  # type: ignore[attr-defined]
        return stored

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


class CosineFactor:
    """Closed-form cosine decay ``0.5 (1 + cos(pi e / T))`` of the learning rate after ``e`` epochs.

    Closed form (not the chainable ``CosineAnnealingLR``) so that resuming with a larger epoch budget
    gives exactly the schedule of an uninterrupted run.
    """

    def __init__(self, total_epochs: int) -> None:
        self.total_epochs = total_epochs

    def __call__(self, epoch: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.total_epochs) / self.total_epochs))


def make_scheduler(
    optimizer: torch.optim.Optimizer, scheduler: str, epochs: int
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """The per-epoch learning-rate schedule a config names: ``"cosine"`` (:class:`CosineFactor` over
    ``epochs``) or ``"none"`` (``None``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, CosineFactor(epochs)) if scheduler == "cosine" else None


def restore_training_state(
    checkpoint: Mapping[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR | None, epochs: int,
) -> tuple[list[dict[str, Any]], int]:
    """Load a checkpoint's model, optimizer and scheduler states (those it has) for a run of ``epochs``
    epochs; returns ``(history so far, first epoch to train)``."""
    model.load_state_dict(checkpoint["model"])
    if "optimizer" in checkpoint:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and "scheduler" in checkpoint:
        restore_scheduler(scheduler, optimizer, checkpoint["scheduler"], epochs)
    return list(checkpoint.get("history", [])), int(checkpoint["epoch"]) + 1


def restore_scheduler(
    scheduler: torch.optim.lr_scheduler.LambdaLR, optimizer: torch.optim.Optimizer, state: Mapping[str, Any],
    epochs: int,
) -> None:
    """Load a checkpoint's scheduler ``state`` for a run of ``epochs`` epochs.

    The epoch budget may have grown since the checkpoint: the cosine factor and the optimizer's current
    learning rates are recomputed for the new budget.
    """
    scheduler.load_state_dict(dict(state))
    factor = CosineFactor(epochs)
    scheduler.lr_lambdas = [factor for _ in optimizer.param_groups]
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base * factor(scheduler.last_epoch)


def epoch_order(labels: torch.Tensor, *, balanced: bool, seed: int, epoch: int) -> torch.Tensor:
    """Sample order of one epoch, a pure function of (seed, epoch): identical after a resume.

    ``labels (N,)`` int64; ``balanced`` draws ``N`` samples with replacement, each class equally likely,
    else a permutation of ``0..N-1``.
    """
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    n = len(labels)
    if not balanced:
        return torch.randperm(n, generator=g)
    counts = torch.bincount(labels.clamp(min=0), minlength=int(labels.max()) + 1).float()
    weights = (1.0 / counts.clamp(min=1))[labels.clamp(min=0)]
    return torch.multinomial(weights, n, replacement=True, generator=g)
