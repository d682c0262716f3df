"""Write an evaluation / training report: strict ``metrics.json`` plus confusion-matrix and curve plots.

Plots use Matplotlib's object-oriented API with the Agg canvas (no ``pyplot``, no GUI backend), so this
works headless and never changes the process-wide backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["to_strict_json", "write_report"]


def to_strict_json(value: Any) -> Any:
    """Recursively convert to JSON-safe Python: NumPy / torch scalars and arrays become numbers and lists,
    NaN / inf become ``None``, paths become strings, tuples become lists.

    Raises:
        ValueError: for objects that have no JSON representation.
    """
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return [to_strict_json(v) for v in value.tolist()] if value.ndim else to_strict_json(value.item())
    if isinstance(value, np.generic):
        return to_strict_json(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_strict_json(v) for v in value]
    raise ValueError(f"cannot write {type(value).__name__} to JSON")


def _new_figure(width: float, height: float) -> Any:
    """A Matplotlib figure on an Agg canvas (imported lazily: ``import ml.metrics`` stays light)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _plot_confusion(path: Path, confusion: np.ndarray, class_names: Sequence[str]) -> None:
    counts = np.asarray(confusion)
    n = counts.shape[0]
    row_sums = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, row_sums, out=np.zeros(counts.shape, dtype=float), where=row_sums > 0)
    fig = _new_figure(1.2 * n + 2.2, 1.1 * n + 1.6)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{counts[i, j]:g}\n{100 * share[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if share[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(n), labels=list(class_names))
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    fig.savefig(path)


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        value: Any = row.get(key)
        numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        if numeric and math.isfinite(float(value)):
            epoch = row.get("epoch", i + 1)
            xs.append(float(epoch) if isinstance(epoch, int | float | np.number) else float(i + 1))
            ys.append(float(value))
    return xs, ys


def _plot_curves(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    keys = sorted({k for row in history for k in row if k != "epoch"})
    panels = {
        "loss": [k for k in keys if "loss" in k.lower()],
        "score": [k for k in keys if any(s in k.lower() for s in ("f1", "acc"))],
    }
    fig = _new_figure(10, 4)
    for i, (title, names) in enumerate(panels.items()):
        ax = fig.add_subplot(1, 2, i + 1)
        plotted = False
        for name in names:
            xs, ys = _series(history, name)
            if xs:
                ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
                plotted = True
        if plotted:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("epoch")
        ax.set_title("Loss" if title == "loss" else "F1 / accuracy")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def write_report(
    out_dir: Path,
    *,
    metrics: Mapping[str, Any],
    confusion: np.ndarray | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    class_names: Sequence[str] = ("0", "1", "2", "3"),
) -> dict[str, Path]:
    """Write ``metrics.json`` (always), ``confusion.png`` (if ``confusion``) and ``curves.png`` (if a
    non-empty ``history``) into ``out_dir`` (created if needed).

    Args:
        out_dir: output directory.
        metrics: JSON-like mapping; NaN / inf are written as ``null`` (strict JSON).
        confusion: ``(C, C)`` counts, rows = true class, columns = predicted class.
        history: per-epoch dicts, e.g. ``{"epoch": 3, "train_loss": .., "val_loss": .., "val_f1": ..}``;
            keys containing "loss" go to the left panel, keys containing "f1" / "acc" to the right one.
        class_names: ``C`` tick labels for the confusion matrix.

    Returns:
        ``{"metrics": path, "confusion": path, "curves": path}`` for the files written.

    Raises:
        ValueError: on a non-square confusion matrix, ``class_names`` of the wrong length, or metrics
            that cannot be written as JSON.
    """
    out_dir = Path(out_dir)
    if confusion is not None:
        confusion = np.asarray(confusion)
        if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
            raise ValueError(f"confusion must be a square (C, C) matrix, got shape {confusion.shape}")
        if len(class_names) != confusion.shape[0]:
            raise ValueError(
                f"class_names has {len(class_names)} entries for a {confusion.shape[0]}-class matrix"
            )
    text = json.dumps(to_strict_json(dict(metrics)), indent=2, sort_keys=True, allow_nan=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"metrics": out_dir / "metrics.json"}
    written["metrics"].write_text(text + "\n", encoding="utf-8")
    if confusion is not None:
        written["confusion"] = out_dir / "confusion.png"
        _plot_confusion(written["confusion"], confusion, class_names)
    if history:
        written["curves"] = out_dir / "curves.png"
        _plot_curves(written["curves"], history)
    return written
