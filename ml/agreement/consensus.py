"""Consensus scores from several raters, the "at least ``a`` agree" filter, and each rater's bias and
confusion against a reference (a consensus or the leave-one-out mean of the others).

Ratings follow ``ml.agreement.ordinal``: ``(n_items, n_raters)`` float, NaN for missing, integer
categories ``0..categories - 1``. Consensus scores come back as float ``(n_items,)`` with NaN for items
nobody rated (and, with ``tie="nan"``, for tied items).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .ordinal import as_ratings, item_counts

__all__ = ["at_least_agree", "consensus", "rater_bias", "rater_confusion"]

Rule = Literal["majority", "median", "most_expert"]
Tie = Literal["lowest", "highest", "nan"]


def _resolve_ties(is_max: np.ndarray, any_rating: np.ndarray, tie: Tie) -> np.ndarray:
    """Pick among the tied categories ``is_max (n, C)``: the lowest, the highest, or NaN when > 1."""
    c = is_max.shape[1]
    if tie == "lowest":
        pick = np.argmax(is_max, axis=1).astype(np.float64)
    else:
        pick = (c - 1 - np.argmax(is_max[:, ::-1], axis=1)).astype(np.float64)
        if tie == "nan":
            pick[is_max.sum(axis=1) > 1] = np.nan
    pick[~any_rating] = np.nan
    return pick


def majority_rule(counts: np.ndarray, tie: Tie) -> np.ndarray:
    top = counts.max(axis=1, initial=0)
    return _resolve_ties(counts == top[:, None], top > 0, tie)


def median_rule(arr: np.ndarray, tie: Tie) -> np.ndarray:
    if arr.shape[1] == 0:
        return np.full(arr.shape[0], np.nan)
    m = (~np.isnan(arr)).sum(axis=1)
    ordered = np.sort(arr, axis=1)  # NaN sorts last
    lo = np.take_along_axis(ordered, np.maximum((m - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, (m // 2)[:, None], axis=1)[:, 0]
    if tie == "lowest":
        out = lo
    elif tie == "highest":
        out = hi
    else:
        out = np.where(lo == hi, lo, np.nan)
    return np.where(m > 0, out, np.nan)


def consensus(
    ratings: Any,
    rule: Rule = "majority",
    *,
    levels: Any = None,
    tie: Tie = "lowest",
    categories: int = 4,
) -> np.ndarray:
    """One consensus score per item.

    Rules:
        ``"majority"``: the most frequent score among the present ratings (plurality). When several scores
        share the top count, ``tie`` picks the ``"lowest"`` or ``"highest"`` of them, or ``"nan"``.
        ``"median"``: the median of the present ratings. With an even number of ratings whose two middle
        scores differ, ``tie`` picks the lower middle, the upper middle, or NaN (never a half score).
        ``"most_expert"``: the score of the rater with the highest ``levels`` value (validation level,
        higher = more expert) among those who rated the item; several raters of that top level are combined
        by majority, ties resolved by ``tie``.

    Args:
        ratings: ``(n_items, n_raters)`` scores, NaN for missing.
        levels: ``(n_raters,)`` finite numbers, required for (and only for) ``"most_expert"``.

    Returns:
        ``(n_items,)`` float scores; NaN where nobody rated the item or (``tie="nan"``) on a tie.

    Raises:
        ValueError: on a malformed ratings matrix, unknown ``rule`` / ``tie``, or missing / misshaped /
            non-finite ``levels`` (or ``levels`` given for another rule).
    """
    if rule not in ("majority", "median", "most_expert"):
        raise ValueError(f"rule must be 'majority', 'median' or 'most_expert', got {rule!r}")
    if tie not in ("lowest", "highest", "nan"):
        raise ValueError(f"tie must be 'lowest', 'highest' or 'nan', got {tie!r}")
    arr = as_ratings(ratings, categories)
    if rule != "most_expert":
        if levels is not None:
            raise ValueError("levels is only used by rule='most_expert'")
        return majority_rule(item_counts(arr, categories), tie) if rule == "majority" else median_rule(arr, tie)
    if levels is None:
        raise ValueError("rule='most_expert' needs levels (one validation level per rater)")
    lv = np.asarray(levels, dtype=np.float64)
    if lv.shape != (arr.shape[1],) or not np.all(np.isfinite(lv)):
        raise ValueError(
            f"levels must be {arr.shape[1]} finite numbers (one per rater), got shape {lv.shape}"
        )
    present = ~np.isnan(arr)
    item_levels = np.where(present, lv[None, :], -np.inf)
    top = item_levels.max(axis=1, initial=-np.inf)
    experts = present & (item_levels == top[:, None])
    return majority_rule(item_counts(np.where(experts, arr, np.nan), categories), tie)


def at_least_agree(ratings: Any, a: int, *, categories: int = 4) -> np.ndarray:
    """``(n_items,)`` bool: at least ``a`` raters gave the item the same score (the paper's Setting 3).

    Raises:
        ValueError: on a malformed ratings matrix or ``a`` not an int in ``[1, n_raters]``.
    """
    arr = as_ratings(ratings, categories)
    if not isinstance(a, int | np.integer) or isinstance(a, bool):
        raise ValueError(f"a must be an int, got {a!r}")
    if not 1 <= a <= arr.shape[1]:
        raise ValueError(f"a must lie in [1, {arr.shape[1]}] (number of raters), got {a}")
    return item_counts(arr, categories).max(axis=1, initial=0) >= a


def _reference(reference: Any, shape: tuple[int, int], categories: int) -> np.ndarray:
    """Reference scores broadcast to ``(n_items, n_raters)``, validated like ratings."""
    try:
        ref = np.asarray(reference, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"reference must be numeric (NaN for undefined): {exc}") from exc
    if ref.shape == (shape[0],):
        ref = np.broadcast_to(ref[:, None], shape)
    elif ref.shape != shape:
        raise ValueError(f"reference must have shape ({shape[0]},) or {shape}, got {ref.shape}")
    as_ratings(ref.reshape(-1, 1), categories, "reference")
    return ref


def bias_and_confusion(
    arr: np.ndarray, ref: np.ndarray, categories: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-rater bias ``(k,)``, usable item count ``(k,)`` and confusion ``(k, C, C)`` (rows = reference)."""
    k = arr.shape[1]
    ok = ~(np.isnan(arr) | np.isnan(ref))
    n = ok.sum(axis=0)
    total = np.where(ok, arr - ref, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        bias = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    rater = np.broadcast_to(np.arange(k)[None, :], arr.shape)[ok]
    codes = (rater * categories + ref[ok].astype(np.intp)) * categories + arr[ok].astype(np.intp)
    conf = np.bincount(codes, minlength=k * categories * categories).reshape(k, categories, categories)
    return bias, n, conf


def rater_bias(ratings: Any, reference: Any, *, categories: int = 4) -> np.ndarray:
    """``(n_raters,)`` mean of ``score - reference`` over the items where both are defined (NaN if none).

    Args:
        ratings: ``(n_items, n_raters)`` scores, NaN for missing.
        reference: ``(n_items,)`` consensus, or ``(n_items, n_raters)`` per-rater reference (e.g.
            :func:`ml.agreement.leave_one_out_reference`); NaN where undefined.

    Raises:
        ValueError: on malformed ratings, or a reference of the wrong shape or outside the categories.
    """
    arr = as_ratings(ratings, categories)
    return bias_and_confusion(arr, _reference(reference, arr.shape, categories), categories)[0]


def rater_confusion(ratings: Any, reference: Any, *, categories: int = 4) -> np.ndarray:
    """``(n_raters, C, C)`` int64 confusion per rater: ``[a, i, j]`` counts items with reference ``i`` that
    rater ``a`` scored ``j`` (items where either is undefined are left out).

    Raises:
        ValueError: as :func:`rater_bias`.
    """
    arr = as_ratings(ratings, categories)
    return bias_and_confusion(arr, _reference(reference, arr.shape, categories), categories)[2]
