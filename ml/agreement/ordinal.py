"""Inter-rater agreement for ordinal scores (LUS scores 0..3): percent agreement, Cohen's / Fleiss' kappa,
Krippendorff's alpha and the leave-one-out measure of Roy et al. (2020).

Input convention: a ratings matrix ``R`` of shape ``(n_items, n_raters)`` ("items" are frames or videos),
float, ``np.nan`` (or ``None``) for a missing rating, otherwise integer categories ``0..categories - 1``.

Undefined statistics (0/0: no shared items, or every rating in the same category so that no disagreement
is expected by chance) are returned as ``None`` for scalars and as ``NaN`` inside NumPy arrays; the
report (``ml.agreement.report``) turns both into ``null`` with a reason string. Nothing here warns.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

__all__ = [
    "LeaveOneOutAgreement",
    "as_ratings",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "leave_one_out_agreement",
    "leave_one_out_reference",
    "pairwise_cohen_kappa",
    "pairwise_percent_agreement",
    "percent_agreement",
]

Weights = Literal["linear", "quadratic"] | None
Level = Literal["ordinal", "interval", "nominal"]

WEIGHTS: tuple[Weights, ...] = (None, "linear", "quadratic")
LEVELS: tuple[Level, ...] = ("ordinal", "interval", "nominal")

# Reasons attached to undefined (None / NaN) results.
NO_SHARED_ITEMS = "no item rated by both raters"
SINGLE_CATEGORY_PAIR = "both raters used one and the same category on every shared item (kappa is 0/0)"
NO_MULTI_RATED = "no item has two or more ratings"
TOO_FEW_RATERS = "fewer than two raters"
NO_COMPLETE_ITEMS = "no item was rated by every rater"
SINGLE_CATEGORY = "every rating falls in one category: no chance disagreement (statistic is 0/0)"
NO_OTHER_RATINGS = "no item rated by this rater and at least one other"


class Statistic(NamedTuple):
    """A scalar statistic: ``value`` is ``None`` when undefined, with ``reason`` saying why."""

    value: float | None
    reason: str | None
    n_items: int


class LeaveOneOutAgreement(NamedTuple):
    """Result of :func:`leave_one_out_agreement`.

    ``per_rater``: ``(n_raters,)`` share of agreement, NaN where undefined; ``n_items``: ``(n_raters,)``
    items each rater was scored on; ``mean``: unweighted mean over raters with a defined share, or None.
    """

    per_rater: np.ndarray
    n_items: np.ndarray
    mean: float | None


# ----------------------------------------------------------------------------------------- validation


def _check_categories(categories: int) -> int:
    if not isinstance(categories, int | np.integer) or isinstance(categories, bool) or categories < 2:
        raise ValueError(f"categories must be an int >= 2, got {categories!r}")
    return int(categories)


def as_ratings(ratings: Any, categories: int = 4, name: str = "ratings") -> np.ndarray:
    """Validate a ratings matrix and return it as float64 ``(n_items, n_raters)`` with NaN for missing.

    ``None`` entries count as missing. Empty matrices (no items or no raters) are valid.

    Raises:
        ValueError: if the input is not 2-D or not numeric, holds inf or non-integer scores, scores
            outside ``0..categories - 1``, or ``categories`` is not an int >= 2.
    """
    c = _check_categories(categories)
    try:
        arr = np.asarray(ratings, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric (NaN for missing): {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_items, n_raters), got shape {arr.shape}")
    values = arr[~np.isnan(arr)]
    if values.size:
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must not contain inf")
        if np.any(values != np.floor(values)):
            raise ValueError(f"{name} must hold integer categories (or NaN), found non-integer scores")
        lo, hi = values.min(), values.max()
        if lo < 0 or hi > c - 1:
            raise ValueError(f"{name} holds scores outside 0..{c - 1} (found {lo:g}..{hi:g})")
    return arr


def _as_pair(a: Any, b: Any, categories: int) -> np.ndarray:
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a and b must be numeric (NaN for missing): {exc}") from exc
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"a and b must be 1-D, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"a and b differ in length: {x.shape[0]} vs {y.shape[0]}")
    return as_ratings(np.stack([x, y], axis=1), categories, "a/b")


def _check_weights(weights: Weights) -> None:
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


# ------------------------------------------------------------------------------------- shared tables
# Array-level helpers on validated (n_items, n_raters) matrices, shared with consensus.py and report.py.


def item_counts(arr: np.ndarray, categories: int) -> np.ndarray:
    """``(n_items, categories)`` int64 number of raters giving each category to each item."""
    n = arr.shape[0]
    present = ~np.isnan(arr)
    rows = np.broadcast_to(np.arange(n)[:, None], arr.shape)[present]
    codes = rows * categories + arr[present].astype(np.intp)
    return np.bincount(codes, minlength=n * categories).reshape(n, categories)


def pair_confusions(arr: np.ndarray, categories: int) -> tuple[np.ndarray, np.ndarray]:
    """All rater pairs ``i < j``: ``pairs (P, 2)`` and confusions ``(P, C, C)`` (rows rater i, cols j)."""
    n, k = arr.shape
    i, j = np.triu_indices(k, 1)
    p = i.size
    a, b = arr[:, i], arr[:, j]
    ok = ~(np.isnan(a) | np.isnan(b))
    pair_idx = np.broadcast_to(np.arange(p)[None, :], (n, p))[ok]
    codes = (pair_idx * categories + a[ok].astype(np.intp)) * categories + b[ok].astype(np.intp)
    conf = np.bincount(codes, minlength=p * categories * categories).reshape(p, categories, categories)
    return np.stack([i, j], axis=1), conf


def _weight_matrix(weights: Weights, categories: int) -> np.ndarray:
    idx = np.arange(categories, dtype=np.float64)
    diff = np.abs(idx[:, None] - idx[None, :])
    if weights is None:
        return (diff > 0).astype(np.float64)
    return diff if weights == "linear" else diff**2


def kappas_from_confusions(conf: np.ndarray, weights: Weights) -> tuple[np.ndarray, list[str | None]]:
    """Cohen's kappa for stacked confusions ``(P, C, C)`` -> ``(P,)`` values (NaN undefined) and reasons.

    Same arithmetic as ``sklearn.metrics.cohen_kappa_score``: ``1 - sum(w * O) / sum(w * E)``.
    """
    conf = conf.astype(np.float64)
    w = _weight_matrix(weights, conf.shape[-1])
    n = conf.sum(axis=(1, 2))
    observed = (conf * w).sum(axis=(1, 2))
    expected = np.einsum("pi,pj,ij->p", conf.sum(axis=1), conf.sum(axis=2), w)
    ok = (n > 0) & (expected > 0)
    kappa = np.full(n.shape, np.nan)
    kappa[ok] = 1.0 - observed[ok] / (expected[ok] / n[ok])
    reasons = [
        None if good else (NO_SHARED_ITEMS if m == 0 else SINGLE_CATEGORY_PAIR)
        for good, m in zip(ok, n, strict=True)
    ]
    return kappa, reasons


def _pairwise_matrix(values: np.ndarray, pairs: np.ndarray, k: int) -> np.ndarray:
    out = np.full((k, k), np.nan)
    out[pairs[:, 0], pairs[:, 1]] = values
    out[pairs[:, 1], pairs[:, 0]] = values
    np.fill_diagonal(out, 1.0)
    return out


# ---------------------------------------------------------------------------------- percent agreement


def percent_statistic(counts: np.ndarray) -> Statistic:
    m = counts.sum(axis=1)
    multi = m >= 2
    n_multi = int(multi.sum())
    if n_multi == 0:
        return Statistic(None, NO_MULTI_RATED, 0)
    agree = counts[multi].max(axis=1) == m[multi]
    return Statistic(float(agree.mean()), None, n_multi)


def percent_agreement(ratings: Any, *, categories: int = 4) -> float | None:
    """Share of items (among those with >= 2 ratings) on which every present rater gave the same score.

    Args:
        ratings: ``(n_items, n_raters)`` scores, NaN for missing.

    Returns:
        A float in ``[0, 1]``, or ``None`` when no item has two ratings (e.g. a single rater, empty input).

    Raises:
        ValueError: on a malformed ratings matrix (see :func:`as_ratings`).
    """
    arr = as_ratings(ratings, categories)
    return percent_statistic(item_counts(arr, categories)).value


def pairwise_percent_agreement(ratings: Any, *, categories: int = 4) -> np.ndarray:
    """``(n_raters, n_raters)`` share of shared items on which two raters gave the same score.

    The diagonal is 1 by convention; pairs with no shared item are NaN.

    Raises:
        ValueError: on a malformed ratings matrix.
    """
    arr = as_ratings(ratings, categories)
    pairs, conf = pair_confusions(arr, categories)
    n = conf.sum(axis=(1, 2))
    agree = np.trace(conf, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(n > 0, agree / np.maximum(n, 1), np.nan)
    return _pairwise_matrix(values, pairs, arr.shape[1])


# --------------------------------------------------------------------------------------- Cohen's kappa


def cohen_kappa(a: Any, b: Any, weights: Weights = None, categories: int = 4) -> float | None:
    """Cohen's kappa of two raters over the items both rated (NaN in either input drops the item).

    Equals ``sklearn.metrics.cohen_kappa_score(a, b, weights=weights, labels=range(categories))`` on the
    shared items; weights use the distance between category indices (``|i - j|`` or ``(i - j) ** 2``).

    Args:
        a, b: ``(n_items,)`` scores, NaN for missing.
        weights: ``None`` (unweighted), ``"linear"`` or ``"quadratic"``.

    Returns:
        Kappa, or ``None`` when undefined: no shared item, or both raters put every shared item in the same
        single category (0/0).

    Raises:
        ValueError: on shapes that are not equal-length 1-D, scores outside ``0..categories - 1`` or
            unknown ``weights``.
    """
    _check_weights(weights)
    arr = _as_pair(a, b, categories)
    _, conf = pair_confusions(arr, categories)
    kappa, _ = kappas_from_confusions(conf, weights)
    return None if np.isnan(kappa[0]) else float(kappa[0])


def pairwise_cohen_kappa(ratings: Any, weights: Weights = None, *, categories: int = 4) -> np.ndarray:
    """``(n_raters, n_raters)`` symmetric matrix of Cohen's kappas (see :func:`cohen_kappa`).

    The diagonal is 1 by convention; undefined pairs (no shared items, 0/0) are NaN.

    Raises:
        ValueError: on a malformed ratings matrix or unknown ``weights``.
    """
    _check_weights(weights)
    arr = as_ratings(ratings, categories)
    pairs, conf = pair_confusions(arr, categories)
    kappa, _ = kappas_from_confusions(conf, weights)
    return _pairwise_matrix(kappa, pairs, arr.shape[1])


# -------------------------------------------------------------------------------------- Fleiss' kappa


def fleiss_statistic(
    counts: np.ndarray, n_raters: int, missing: Literal["complete", "available"], method: str
) -> Statistic:
    if n_raters < 2:
        return Statistic(None, TOO_FEW_RATERS, 0)
    m = counts.sum(axis=1)
    keep = m == n_raters if missing == "complete" else m >= 2
    c, mm = counts[keep].astype(np.float64), m[keep].astype(np.float64)
    n_items = int(c.shape[0])
    if n_items == 0:
        return Statistic(None, NO_COMPLETE_ITEMS if missing == "complete" else NO_MULTI_RATED, 0)
    p_item = ((c * c).sum(axis=1) - mm) / (mm * (mm - 1.0))
    p_cat = c.sum(axis=0) / mm.sum()
    if method == "fleiss":
        if np.count_nonzero(p_cat) < 2:
            return Statistic(None, SINGLE_CATEGORY, n_items)
        p_exp = float((p_cat * p_cat).sum())
    else:
        p_exp = 1.0 / counts.shape[1]
    return Statistic(float((p_item.mean() - p_exp) / (1.0 - p_exp)), None, n_items)


def fleiss_kappa(
    ratings: Any,
    *,
    categories: int = 4,
    missing: Literal["complete", "available"] = "complete",
    method: Literal["fleiss", "randolph"] = "fleiss",
) -> float | None:
    """Fleiss' kappa for many raters.

    ``missing="complete"`` (default) uses only the items rated by every rater: on complete data it equals
    ``statsmodels.stats.inter_rater.fleiss_kappa(aggregate_raters(R, n_cat=categories)[0], method)``.
    ``missing="available"`` is the usual generalisation to unequal numbers of ratings: every item with
    ``m_i >= 2`` ratings contributes ``P_i = sum_c n_ic (n_ic - 1) / (m_i (m_i - 1))`` with equal weight and
    the category shares pool all their ratings; with equal ``m_i`` it reduces to Fleiss' kappa.
    ``method="randolph"`` uses the uniform chance agreement ``1 / categories`` (free-marginal kappa).

    Returns:
        Kappa, or ``None`` when undefined: fewer than two raters, no usable item, or (``"fleiss"``) every
        rating in one category (0/0).

    Raises:
        ValueError: on a malformed ratings matrix or unknown ``missing`` / ``method``.
    """
    if missing not in ("complete", "available"):
        raise ValueError(f"missing must be 'complete' or 'available', got {missing!r}")
    if method not in ("fleiss", "randolph"):
        raise ValueError(f"method must be 'fleiss' or 'randolph', got {method!r}")
    arr = as_ratings(ratings, categories)
    return fleiss_statistic(item_counts(arr, categories), arr.shape[1], missing, method).value


# ------------------------------------------------------------------------------- Krippendorff's alpha


def _alpha_distances(level: Level, n_v: np.ndarray) -> np.ndarray:
    """``(C, C)`` squared distances between categories for the level of measurement."""
    c = n_v.size
    idx = np.arange(c)
    lo, hi = np.minimum(idx[:, None], idx[None, :]), np.maximum(idx[:, None], idx[None, :])
    if level == "nominal":
        return (lo != hi).astype(np.float64)
    if level == "interval":
        return ((hi - lo) ** 2).astype(np.float64)
    cum = np.cumsum(n_v)
    between = cum[hi] - cum[lo] + n_v[lo]  # sum of n_g for g in lo..hi
    return (between - (n_v[lo] + n_v[hi]) / 2.0) ** 2


def alpha_statistic(counts: np.ndarray, level: Level) -> Statistic:
    m = counts.sum(axis=1)
    pairable = m >= 2
    n_items = int(pairable.sum())
    if n_items == 0:
        return Statistic(None, NO_MULTI_RATED, 0)
    c = counts[pairable].astype(np.float64)
    cw = c / (m[pairable] - 1.0)[:, None]
    o = cw.T @ c - np.diag(cw.sum(axis=0))  # coincidence matrix (C, C)
    n_v = o.sum(axis=0)
    if np.count_nonzero(n_v) < 2:
        return Statistic(None, SINGLE_CATEGORY, n_items)
    d = _alpha_distances(level, n_v)
    e = (np.outer(n_v, n_v) - np.diag(n_v)) / (n_v.sum() - 1.0)
    return Statistic(float(1.0 - (o * d).sum() / (e * d).sum()), None, n_items)


def krippendorff_alpha(ratings: Any, level: Level = "ordinal", *, categories: int = 4) -> float | None:
    """Krippendorff's alpha through the coincidence matrix, using every item with >= 2 ratings.

    Equals ``krippendorff.alpha(reliability_data=R.T, level_of_measurement=level)`` (note that package's
    raters x items orientation). Categories nobody used have no effect.

    Args:
        ratings: ``(n_items, n_raters)`` scores, NaN for missing.
        level: ``"ordinal"``, ``"interval"`` or ``"nominal"``.

    Returns:
        Alpha, or ``None`` when undefined: no item with two ratings, or all pairable ratings in one category.

    Raises:
        ValueError: on a malformed ratings matrix or unknown ``level``.
    """
    _check_level(level)
    arr = as_ratings(ratings, categories)
    return alpha_statistic(item_counts(arr, categories), level).value


# ------------------------------------------------------------------ leave-one-out (Roy et al., 2020)


def others_reference(arr: np.ndarray) -> np.ndarray:
    present = ~np.isnan(arr)
    values = np.where(present, arr, 0.0)
    others_sum = values.sum(axis=1, keepdims=True) - values
    others_cnt = present.sum(axis=1, keepdims=True) - present
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = others_sum / others_cnt
    return np.where(others_cnt > 0, np.floor(mean + 0.5), np.nan)


def leave_one_out_reference(ratings: Any, *, categories: int = 4) -> np.ndarray:
    """``(n_items, n_raters)`` reference for each rater: the mean of the OTHER raters' scores on the item,
    rounded half up (1.5 -> 2); NaN where no other rater scored the item.

    Raises:
        ValueError: on a malformed ratings matrix.
    """
    return others_reference(as_ratings(ratings, categories))


def leave_one_out_matrix(arr: np.ndarray, ref: np.ndarray | None = None) -> LeaveOneOutAgreement:
    ref = others_reference(arr) if ref is None else ref
    usable = ~np.isnan(arr) & ~np.isnan(ref)
    n_items = usable.sum(axis=0)
    hits = (usable & (arr == ref)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_rater = np.where(n_items > 0, hits / np.maximum(n_items, 1), np.nan)
    defined = ~np.isnan(per_rater)
    mean = float(per_rater[defined].mean()) if defined.any() else None
    return LeaveOneOutAgreement(per_rater, n_items.astype(np.int64), mean)


def leave_one_out_agreement(ratings: Any, *, categories: int = 4) -> LeaveOneOutAgreement:
    """The agreement measure of Roy et al. (2020): each rater against the rounded mean of the others.

    For rater ``a``, over the items ``a`` scored that at least one other rater scored, the share on which
    ``a``'s score equals :func:`leave_one_out_reference`; ``mean`` averages the per-rater shares with equal
    weight over the raters where it is defined.

    Returns:
        :class:`LeaveOneOutAgreement` (``per_rater`` NaN and ``mean`` None where undefined).

    Raises:
        ValueError: on a malformed ratings matrix.
    """
    return leave_one_out_matrix(as_ratings(ratings, categories))
