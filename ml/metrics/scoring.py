"""One report of how well video scores were predicted: the figures the COVID-BLUeS benchmark tables.

Weighted and macro F1, quadratic weighted kappa (ordinal agreement with the truth), per-class recall,
expected calibration error, and the AUC of each finding head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import recall_score, roc_auc_score

from ml.agreement.ordinal import cohen_kappa
from ml.scores import NUM_SCORES, SCORES

from .calibration import expected_calibration_error
from .classification import frame_f1

__all__ = ["binary_auc", "quadratic_kappa", "score_report"]


def quadratic_kappa(y_true: Any, y_pred: Any) -> float:
    """Cohen's kappa with quadratic weights over the score scale (:func:`ml.agreement.cohen_kappa`); 0 where
    it is undefined (truth and prediction one and the same class), so fold means stay defined."""
    kappa = cohen_kappa(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64),
                        weights="quadratic", categories=NUM_SCORES)
    return 0.0 if kappa is None else kappa


def binary_auc(y_true: Any, scores: Any) -> float | None:
    """ROC AUC; ``None`` when only one class is present (the AUC is undefined)."""
    t = np.asarray(y_true).astype(bool)
    if t.all() or not t.any():
        return None
    return float(roc_auc_score(t, np.asarray(scores, dtype=np.float64)))


def score_report(y_true: Any, probs: np.ndarray, *,
                 findings: Mapping[str, tuple[Any, Any]] | None = None) -> dict[str, Any]:
    """Metrics of video score probabilities ``(N, C)`` against true scores; ``findings`` maps a code to
    ``(present (N,) bool, predicted probability (N,))`` (only the videos whose finding is known)."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    pred = p.argmax(1)
    report: dict[str, Any] = {
        "f1_weighted": frame_f1(t, pred, average="weighted"),
        "f1_macro": frame_f1(t, pred, average="macro"),
        "quadratic_kappa": quadratic_kappa(t, pred),
        "accuracy": float((pred == t).mean()),
        "recall_per_class": [float(r) for r in recall_score(t, pred, labels=list(SCORES), average=None,
                                                             zero_division=0)],
        "ece": expected_calibration_error(p, t),
        "n_videos": len(t),
    }
    for code, (present, predicted) in (findings or {}).items():
        report[f"auc_{code}"] = binary_auc(present, predicted)
    return report
