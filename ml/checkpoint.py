"""Training checkpoints: model, optimizer, scheduler, epoch, config, history and RNG states.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``.
They are written atomically (temporary file + rename), so an interrupted save never leaves a truncated file.
Restoring the RNG states makes ``train 2 epochs`` and ``train 1 epoch, resume, train 1 more`` identical on CPU.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "CHECKPOINT_VERSION",
    "capture_rng_state",
    "load_checkpoint",
    "model_from_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_VERSION = 1


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states as tensors / plain values."""
    np_state: tuple[Any, ...] = tuple(np.random.get_state())
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (missing parts are skipped)."""
    if "python" in state:
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state(
            ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
        )
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "_orig_mod", getattr(model, "module", model))


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: nn.Module,
    epoch: int,
    config: Mapping[str, Any],
    history: list[dict[str, Any]] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    extra: Mapping[str, Any] | None = None,
    rng: bool = True,
) -> Path:
    """Atomically write a checkpoint.

    Args:
        path: destination file.
        model: the model (``torch.compile`` / ``DataParallel`` wrappers are unwrapped).
        epoch: last *completed* epoch (1-based; 0 = before training).
        config: JSON-like training configuration (must include ``model`` and ``model_kwargs`` for
            :func:`model_from_checkpoint`).
        history: per-epoch metric records.
        optimizer, scheduler: their ``state_dict`` s are stored when given.
        extra: any other plain values.
        rng: also store the RNG states (for bit-exact resume).

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "version": CHECKPOINT_VERSION,
        "epoch": int(epoch),
        "config": dict(config),
        "history": list(history or []),
        "model": {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    if extra:
        payload["extra"] = dict(extra)
    if rng:
        payload["rng"] = capture_rng_state()
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a Pleura checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{path} is not a Pleura checkpoint")
    return ckpt


def model_from_checkpoint(
    ckpt: Mapping[str, Any] | str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild the registered model stored in a checkpoint and load its weights (eval mode).

    Raises:
        ValueError: if the checkpoint does not name a registered model.
    """
    from ml.models import create_model

    if not isinstance(ckpt, Mapping):
        ckpt = load_checkpoint(ckpt, map_location)
    config = ckpt["config"]
    if "model" not in config:
        raise ValueError("checkpoint config has no 'model' entry")
    model = create_model(config["model"], **dict(config.get("model_kwargs", {})))
    model.load_state_dict(ckpt["model"])
    return model.eval()
