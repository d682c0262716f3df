"""Small runtime helpers shared by the training / inference entry points.

* :func:`seed_everything` makes CPU runs repeatable (Python, NumPy and torch RNGs, deterministic kernels).
* :func:`pick_device` resolves ``"auto"``/``"cpu"``/``"cuda"``/``"cuda:1"``/``"mps"`` to a :class:`torch.device`.
* :func:`autocast_context` gives bf16 autocast on CUDA and a no-op elsewhere.
* :func:`set_threads` is the command lines' ``--threads``.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch

__all__ = ["autocast_context", "pick_device", "seed_everything", "seed_worker", "set_threads"]


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (all devices) so that CPU runs are bit-for-bit repeatable.

    Args:
        seed: non-negative integer seed.
        deterministic: also ask torch for deterministic kernels (``warn_only`` so unsupported CUDA ops
            still run) and disable cuDNN autotuning.

    Raises:
        ValueError: if ``seed`` is negative or not an integer.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)`` hook deriving NumPy / random seeds from torch's per-worker seed."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def pick_device(requested: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device request.

    Args:
        requested: ``None``/``"auto"`` (CUDA if available, then MPS, else CPU), or any string torch accepts
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), or a :class:`torch.device`.

    Returns:
        The resolved :class:`torch.device`.

    Raises:
        ValueError: if the string is not a valid device or the requested accelerator is not available.
    """
    if isinstance(requested, torch.device):
        device = requested
    elif requested is None or requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            device = torch.device(requested)
        except RuntimeError as exc:
            raise ValueError(f"invalid device {requested!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {requested!r} requested but MPS is not available")
    return device


@contextlib.contextmanager
def autocast_context(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA (when ``enabled``); a no-op context on every other device."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)``; ``None`` leaves torch's default.

    Raises:
        ValueError: if ``threads < 1``.
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def run_cli(prog: str, run: Callable[[], int]) -> int:
    """Run a command line's work; bad input (ValueError, FileNotFoundError) ends with one ``error:`` line on
    stderr and exit status 2 instead of a traceback. Returns the exit status."""
    import sys

    try:
        return int(run())
    except (ValueError, FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
