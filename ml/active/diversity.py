"""Diversity by embedding: k-means and k-center greedy over frame or video embeddings (vectorised numpy),
so that a "label next" list spreads over what the model has not seen instead of near-identical frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["k_center_greedy", "kmeans", "pairwise_sq_distances"]


def pairwise_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` squared Euclidean distances (``|a|^2 + |b|^2 - 2 a.b``, clipped at 0)."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _points(x: Any) -> np.ndarray:
    p = np.asarray(x, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"expected (N, D) embeddings with N >= 1, got shape {p.shape}")
    return p


def kmeans(x: Any, k: int, *, seed: int = 0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (N,), centres (k', D))``: Lloyd's k-means from a k-means++ start (seeded), ``k' = min(k, N)``;
    an emptied cluster is re-seeded at the point farthest from its centre."""
    p = _points(x)
    k = min(int(k), len(p))
    if k < 1:
        raise ValueError("k must be >= 1")
    rng = np.random.default_rng(seed)
    centres = [p[rng.integers(len(p))]]
    closest = pairwise_sq_distances(p, centres[0][None])[:, 0]
    for _ in range(1, k):
        total = closest.sum()
        index = int(rng.choice(len(p), p=closest / total)) if total > 0 else int(rng.integers(len(p)))
        centres.append(p[index])
        closest = np.minimum(closest, pairwise_sq_distances(p, p[index][None])[:, 0])
    c = np.stack(centres)
    labels = np.zeros(len(p), dtype=np.int64)
    for step in range(iterations):
        d = pairwise_sq_distances(p, c)
        new = d.argmin(1)
        if step and np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(c)
        np.add.at(sums, labels, p)
        empty = counts == 0
        c = np.where(empty[:, None], c, sums / np.maximum(counts, 1)[:, None])
        for cluster in np.flatnonzero(empty):
            far = int(d[np.arange(len(p)), labels].argmax())
            c[cluster], labels[far] = p[far], cluster
    return labels, c


def k_center_greedy(x: Any, k: int, *, selected: Sequence[int] = (), first: int | None = None) -> np.ndarray:
    """Indices of ``k`` new points chosen farthest-first (Sener & Savarese 2018): each is the point farthest
    from everything already selected (``selected``; with none, ``first`` or point 0 starts)."""
    p = _points(x)
    k = min(int(k), len(p) - len(set(selected)))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    chosen: list[int] = []
    if selected:
        closest = pairwise_sq_distances(p, p[list(selected)]).min(1)
    else:
        start = 0 if first is None else int(first)
        chosen.append(start)
        closest = pairwise_sq_distances(p, p[start][None])[:, 0]
    closest[list(selected)] = -1.0
    while len(chosen) < k:
        index = int(closest.argmax())
        chosen.append(index)
        closest = np.minimum(closest, pairwise_sq_distances(p, p[index][None])[:, 0])
        closest[index] = -1.0
    return np.asarray(chosen, dtype=np.int64)
