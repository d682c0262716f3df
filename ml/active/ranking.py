"""The "label next" order: informativeness signals combined by documented weights, then spread by diversity.

:func:`combine` is a weighted mean of the signals that are known for an item (each in [0, 1], NaN where it
does not apply: no MC samples, fewer than two annotators, no consensus yet). :data:`DEFAULT_WEIGHTS`:

* ``entropy`` 1.0 and ``margin`` 0.5: the model's own uncertainty (margin mostly repeats entropy, so less);
* ``mc_variance`` 1.0: epistemic uncertainty where the model has dropout;
* ``annotator_disagreement`` 1.0: humans disagree, a further (expert) label settles it;
* ``model_consensus`` 1.5: the model contradicts the consensus, the most direct sign the model needs this
  item (or that the label needs review).

:func:`rank` then orders items: without embeddings by score alone; with them the top ``k`` are chosen among
the ``pool`` x ``k`` best (10 x by default: wide enough that a run of near-duplicates cannot fill it) by
clustering those candidates' embeddings into ``k`` clusters (k-means, or k-center greedy) and taking each
cluster's best item, so the top of the list is not twenty near-identical frames of one video; ``max_per_group`` also caps the items of one group (video) in that top. The rest
follow by score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .diversity import k_center_greedy, kmeans

__all__ = ["DEFAULT_WEIGHTS", "DIVERSITY", "combine", "rank"]

DEFAULT_WEIGHTS: dict[str, float] = {"entropy": 1.0, "margin": 0.5, "mc_variance": 1.0,
                                     "annotator_disagreement": 1.0, "model_consensus": 1.5}
DIVERSITY = ("kmeans", "kcenter")


def combine(signals: Mapping[str, Any], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """``(N,)`` weighted mean of the known signals per item (0 where none is known).

    Raises:
        ValueError: on an unknown signal name, negative weight or mismatched lengths.
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    if not signals:
        raise ValueError("no signal to combine")
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in signals.items()}
    lengths = {a.shape for a in arrays.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError("every signal must be a (N,) array of one length")
    total = np.zeros(next(iter(lengths)))
    mass = np.zeros_like(total)
    for name, values in arrays.items():
        if name not in weights:
            raise ValueError(f"no weight for signal {name!r} (known: {', '.join(sorted(weights))})")
        if weights[name] < 0:
            raise ValueError(f"weights must be >= 0, got {name}={weights[name]}")
        known = ~np.isnan(values)
        total += np.where(known, weights[name] * values, 0.0)
        mass += np.where(known, weights[name], 0.0)
    return np.divide(total, mass, out=np.zeros_like(total), where=mass > 0)


def rank(scores: Any, *, embeddings: Any = None, groups: Sequence[Any] | None = None, k: int = 20,
         diversity: str = "kmeans", pool: int = 10, max_per_group: int | None = None, seed: int = 0) -> np.ndarray:
    """All item indices, most worth labelling first (see the module docstring).

    Args:
        scores: ``(N,)`` combined informativeness. embeddings: ``(N, D)`` or None (no diversity).
        groups: ``(N,)`` group of each item (its video) for ``max_per_group``.
        k: how many items the diverse top holds; pool: candidates per top item.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError("scores must be (N,)")
    if diversity not in DIVERSITY:
        raise ValueError(f"diversity must be one of {', '.join(DIVERSITY)}, got {diversity!r}")
    by_score = np.argsort(-s, kind="stable")
    if groups is not None and len(groups) != len(s):
        raise ValueError("groups must have one entry per item")
    k = min(int(k), len(s))
    candidates = by_score
    if groups is not None and max_per_group is not None:
        candidates = _capped(by_score, groups, max_per_group, len(s))
    candidates = candidates[: max(k * pool, k)]
    if embeddings is None or k == 0:
        top = candidates[:k]
    else:
        x = np.asarray(embeddings, dtype=np.float64)
        if x.shape[0] != len(s):
            raise ValueError("embeddings must have one row per item")
        top = _diverse(candidates, s, x[candidates], k, diversity, seed)
    rest = np.setdiff1d(by_score, top, assume_unique=True)
    rest = rest[np.argsort(-s[rest], kind="stable")]
    return np.concatenate([top, rest]).astype(np.int64)


def _capped(order: np.ndarray, groups: Sequence[Any], cap: int, n: int) -> np.ndarray:
    if cap < 1:
        raise ValueError("max_per_group must be >= 1")
    taken: dict[Any, int] = {}
    keep = []
    for index in order:
        group = groups[int(index)]
        if taken.get(group, 0) < cap:
            taken[group] = taken.get(group, 0) + 1
            keep.append(int(index))
    return np.asarray(keep, dtype=np.int64) if keep else order[:0]


def _diverse(candidates: np.ndarray, s: np.ndarray, x: np.ndarray, k: int, diversity: str, seed: int) -> np.ndarray:
    k = min(k, len(candidates))
    if diversity == "kcenter":
        picked = candidates[k_center_greedy(x, k, first=0)]  # candidates[0] is the best item
    else:
        labels, _ = kmeans(x, k, seed=seed)
        picked = np.array([candidates[labels == c][0] for c in np.unique(labels)])  # each cluster's best
        if len(picked) < k:  # fewer clusters than k (duplicate points): fill by score
            extra = np.setdiff1d(candidates, picked, assume_unique=True)
            picked = np.concatenate([picked, extra[np.argsort(-s[extra], kind="stable")][: k - len(picked)]])
    return picked[np.argsort(-s[picked], kind="stable")]
