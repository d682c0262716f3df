"""Segmentation metrics of the paper's Table IV: pixel accuracy, Dice on the union of the COVID-19 markers
and categorical Dice (mean Dice over the markers of scores 0, 2 and 3).

Class ids: 0 background, ``s + 1`` the marker of score ``s``. Counts are pooled over every pixel of every
frame given (not averaged per frame), so frames without a marker do not produce undefined ratios; a Dice
whose classes are absent from both prediction and truth is NaN and left out of the categorical mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ml.agreement.masks import COVID_MARKERS

__all__ = [
    "CATEGORICAL_CLASSES",
    "COVID_MARKERS",
    "categorical_dice",
    "dice",
    "pixel_accuracy",
    "segmentation_metrics",
]

#: Markers of scores 0, 2 and 3 (class ids 1, 3, 4): the categorical Dice of Table IV.
CATEGORICAL_CLASSES: tuple[int, ...] = (1, 3, 4)


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = (np.asarray(a.detach().cpu() if hasattr(a, "detach") else a) for a in (pred, target))
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    if p.size == 0:
        raise ValueError("empty masks")
    if p.dtype.kind not in "iub" or t.dtype.kind not in "iub":
        raise ValueError(f"masks must hold integer class ids, got {p.dtype} and {t.dtype}")
    return p, t


def pixel_accuracy(pred: Any, target: Any) -> float:
    """Share of pixels whose class is right.

    Raises:
        ValueError: on mismatched shapes, empty or non-integer masks.
    """
    p, t = _pair(pred, target)
    return float(np.mean(p == t))


def dice(pred: Any, target: Any, classes: Iterable[int]) -> float:
    """Dice of the region ``class in classes`` (one class, or several pooled): ``2|P∩T| / (|P| + |T|)``;
    NaN when the region is empty in both.

    Raises:
        ValueError: as :func:`pixel_accuracy`.
    """
    p, t = _pair(pred, target)
    wanted = np.asarray(sorted(set(classes)))
    pin, tin = np.isin(p, wanted), np.isin(t, wanted)
    denominator = int(pin.sum()) + int(tin.sum())
    return float("nan") if denominator == 0 else 2.0 * int((pin & tin).sum()) / denominator


def categorical_dice(pred: Any, target: Any, classes: Iterable[int] = CATEGORICAL_CLASSES) -> float:
    """Mean of the per-class Dice over ``classes`` (NaN ones left out; NaN when all are)."""
    values = [dice(pred, target, [c]) for c in classes]
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def segmentation_metrics(pred: Any, target: Any, num_classes: int = 5) -> dict[str, Any]:
    """``{"pixel_accuracy", "dice_union", "dice_categorical", "dice_per_class": {class id: Dice}}``."""
    return {
        "pixel_accuracy": pixel_accuracy(pred, target),
        "dice_union": dice(pred, target, COVID_MARKERS),
        "dice_categorical": categorical_dice(pred, target),
        "dice_per_class": {c: dice(pred, target, [c]) for c in range(1, num_classes)},
    }
