"""How informative a label would be, per frame or video, from model outputs and existing labels.

Every signal is scaled to [0, 1] (1: most worth labelling) so :func:`ml.active.ranking.combine` can weight
them: predictive entropy and margin of the (calibrated) probabilities, MC-dropout variance and mutual
information from stacked stochastic forward passes, disagreement between annotators, and disagreement
between the model and the consensus label. A signal without a useful natural maximum (a segmentation's mean
MC-dropout standard deviation) is put on that scale by :func:`rank_scaled`. Frames roll up to their video by
:func:`per_video`.
Pure numpy: the platform computes suggestions without loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["annotator_disagreement", "entropy", "margin", "mc_variance", "model_consensus_disagreement",
           "mutual_information", "per_video", "rank_scaled"]

_EPS = 1e-12


def _probs(probs: Any) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"expected (N, C) probabilities with C >= 2, got shape {p.shape}")
    return p


def entropy(probs: Any) -> np.ndarray:
    """``(N,)`` predictive entropy of ``(N, C)`` probabilities, divided by ``log C`` (1: uniform)."""
    p = _probs(probs)
    return np.clip(-(p * np.log(p + _EPS)).sum(1) / np.log(p.shape[1]), 0.0, 1.0)


def margin(probs: Any) -> np.ndarray:
    """``(N,)`` one minus the gap between the two most probable classes (1: a tie, 0: certain)."""
    p = np.sort(_probs(probs), axis=1)
    return 1.0 - (p[:, -1] - p[:, -2])


def _samples(samples: Any) -> np.ndarray:
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 3 or s.shape[0] < 2:
        raise ValueError(f"expected (S, N, C) MC samples with S >= 2, got shape {s.shape}")
    return s


def mc_variance(samples: Any) -> np.ndarray:
    """``(N,)`` MC-dropout variance: the variance of each class probability over ``S`` stochastic passes
    (``(S, N, C)``), averaged over classes and divided by its maximum 0.25."""
    return np.clip(_samples(samples).var(0).mean(1) / 0.25, 0.0, 1.0)


def mutual_information(samples: Any) -> np.ndarray:
    """``(N,)`` BALD: entropy of the mean prediction minus the mean entropy of the passes (the model's own
    uncertainty, not the data's), divided by ``log C``."""
    s = _samples(samples)
    mean_entropy = -(s * np.log(s + _EPS)).sum(2).mean(0) / np.log(s.shape[2])
    return np.clip(entropy(s.mean(0)) - mean_entropy, 0.0, 1.0)


def rank_scaled(values: Any) -> np.ndarray:
    """``(N,)`` each known value's rank among the known ones of ``values`` ``(N,)``, scaled to [0, 1] (0: the
    lowest, 1: the highest; ties share their mean rank, so a lone value or all-equal values get 0.5); NaN stays
    NaN. For a raw uncertainty whose plausible range depends on the model and the data (a frame's mean pixel
    standard deviation is far below its bound 0.5): only the order among the candidates counts.

    Raises:
        ValueError: if ``values`` is not one-dimensional.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"expected (N,) values, got shape {v.shape}")
    out = np.full(v.shape, np.nan)
    known = ~np.isnan(v)
    n = int(known.sum())
    if n == 0:
        return out
    if n == 1:
        out[known] = 0.5
        return out
    _, inverse, counts = np.unique(v[known], return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based rank of each distinct value's first occurrence
    out[known] = (first + (counts - 1) / 2.0)[inverse] / (n - 1)
    return out


def annotator_disagreement(labels: Any, num_classes: int) -> np.ndarray:
    """``(N,)`` mean absolute difference between every pair of annotators' labels (``(N, A)``, NaN where an
    annotator gave none), divided by ``num_classes - 1`` (ordinal scores; 2 for a binary finding). Items with
    fewer than two labels get 0 (no disagreement seen)."""
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"expected (N, A) labels, got shape {y.shape}")
    if num_classes < 2:
        raise ValueError("num_classes must be >= 2")
    known = ~np.isnan(y)
    diff = np.abs(y[:, :, None] - y[:, None, :])
    pair = known[:, :, None] & known[:, None, :]
    pairs = pair.sum((1, 2)) - known.sum(1)  # ordered pairs of different annotators
    total = np.where(pair, diff, 0.0).sum((1, 2))
    out = np.divide(total, pairs, out=np.zeros(len(y)), where=pairs > 0)
    return np.clip(out / (num_classes - 1), 0.0, 1.0)


def model_consensus_disagreement(probs: Any, consensus: Any) -> np.ndarray:
    """``(N,)`` the model's expected ordinal distance to the consensus label, ``sum_c p_c |c - y| / (C - 1)``;
    0 where there is no consensus (``consensus`` < 0 or NaN)."""
    p = _probs(probs)
    y = np.asarray(consensus, dtype=np.float64)
    if y.shape != (len(p),):
        raise ValueError(f"expected ({len(p)},) consensus labels, got shape {y.shape}")
    known = ~np.isnan(y) & (y >= 0)
    distance = (p * np.abs(np.arange(p.shape[1])[None, :] - np.where(known, y, 0)[:, None])).sum(1)
    return np.where(known, distance / (p.shape[1] - 1), 0.0)


def per_video(values: Any, videos: Sequence[Any], *, reduce: str = "top_mean", top: int = 3) -> dict[Any, float]:
    """Frame values rolled up to their video: ``max``, ``mean`` or ``top_mean`` (mean of the ``top`` highest:
    one odd frame does not dominate, a run of uncertain frames does)."""
    v = np.asarray(values, dtype=np.float64)
    keys = np.asarray(videos, dtype=object)
    if v.shape != (len(keys),):
        raise ValueError("values and videos must have the same length")
    if reduce not in ("max", "mean", "top_mean"):
        raise ValueError(f"reduce must be max, mean or top_mean, got {reduce!r}")
    unique, inverse = np.unique(keys.astype(str), return_inverse=True)
    order = np.lexsort((-v, inverse))  # by video, then highest value first
    starts = np.searchsorted(inverse[order], np.arange(len(unique)))
    counts = np.bincount(inverse, minlength=len(unique))
    if reduce == "max":
        rolled = v[order][starts]
    elif reduce == "mean":
        rolled = np.bincount(inverse, weights=v, minlength=len(unique)) / counts
    else:
        rank = np.arange(len(v)) - np.repeat(starts, counts)
        keep = rank < top
        rolled = (np.bincount(inverse[order][keep], weights=v[order][keep], minlength=len(unique))
                  / np.minimum(counts, top))
    first: dict[str, Any] = {}
    for key in keys:
        first.setdefault(str(key), key)
    return {first[str(name)]: float(value) for name, value in zip(unique, rolled, strict=True)}
