"""Frame- and video-level classification metrics (the paper reports weighted F1 and macro figures).

Inputs are 1-D integer label arrays: NumPy arrays, torch tensors (any device) or sequences. Undefined
ratios (a class never predicted, never present) count as 0 (``zero_division=0``): no warnings, no NaN.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from ml.scores import NUM_SCORES

__all__ = ["as_label_array", "confusion_matrix", "frame_f1", "video_metrics"]


def as_label_array(values: Any, name: str = "labels") -> np.ndarray:
    """Convert NumPy arrays / torch tensors / sequences of integer labels to a 1-D int64 array.

    Raises:
        ValueError: if the input is not 1-D (after squeezing a trailing singleton) or holds non-integers.
    """
    if hasattr(values, "detach"):  # torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0 or arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = as_label_array(y_true, "y_true"), as_label_array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    if t.size == 0:
        raise ValueError("need at least one label")
    return t, p


def frame_f1(y_true: Any, y_pred: Any, average: Literal["weighted", "macro"] = "weighted") -> float:
    """F1 score over the classes present in ``y_true`` or ``y_pred``.

    ``"weighted"`` averages per-class F1 by true support (the paper's headline figure); ``"macro"`` is
    the unweighted mean. Classes absent from both arrays are left out.

    Raises:
        ValueError: on an unknown ``average``, empty or mismatched inputs, or non-integer labels.
    """
    if average not in ("weighted", "macro"):
        raise ValueError(f"average must be 'weighted' or 'macro', got {average!r}")
    t, p = _pair(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return float(f1_score(t, p, average=average, zero_division=0))


def video_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Weighted ``f1``, ``precision`` and ``recall`` plus ``accuracy``, as plain floats.

    Raises:
        ValueError: on empty or mismatched inputs, or non-integer labels.
    """
    t, p = _pair(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        precision, recall, f1, _ = precision_recall_fscore_support(t, p, average="weighted", zero_division=0)
    return {
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "accuracy": float(accuracy_score(t, p)),
    }


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = NUM_SCORES) -> np.ndarray:
    """``(C, C)`` int64 counts; row = true class, column = predicted class.

    Raises:
        ValueError: if ``num_classes < 1``, on mismatched inputs, or labels outside ``[0, C)``.
    """
    if not isinstance(num_classes, int | np.integer) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
    t, p = as_label_array(y_true, "y_true"), as_label_array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{arr.min()}, {arr.max()}]")
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)
