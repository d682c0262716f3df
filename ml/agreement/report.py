"""One JSON-safe dictionary with every agreement statistic of a ratings matrix, and its CSV rows.

Every scalar that can be undefined is written as ``{"value": float | None, "reason": str | None,
"n_items": int}``: ``value`` is ``null`` exactly when ``reason`` says why (no shared items, a single
category, fewer than two raters, ...). The report never holds NaN or inf (``json.dumps(...,
allow_nan=False)`` succeeds) and only plain Python types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .consensus import Rule, Tie, bias_and_confusion, consensus, majority_rule, median_rule
from .ordinal import (
    LEVELS,
    NO_OTHER_RATINGS,
    NO_SHARED_ITEMS,
    WEIGHTS,
    Statistic,
    alpha_statistic,
    as_ratings,
    fleiss_statistic,
    item_counts,
    kappas_from_confusions,
    leave_one_out_matrix,
    others_reference,
    pair_confusions,
    percent_statistic,
)

__all__ = ["CSV_FIELDS", "agreement_report", "report_to_csv_rows"]

CSV_FIELDS = ("statistic", "variant", "rater", "rater_b", "value", "n_items", "reason")
NO_CONSENSUS = "no item with both a score from this rater and a defined consensus"


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _stat(s: Statistic) -> dict[str, Any]:
    return {"value": s.value, "reason": s.reason, "n_items": int(s.n_items)}


def _scalar(value: float, n: int, reason: str) -> dict[str, Any]:
    v = _num(value)
    return {"value": v, "reason": None if v is not None else reason, "n_items": int(n)}


def _weights_name(w: str | None) -> str:
    return "unweighted" if w is None else w


def _mean_stat(values: np.ndarray, n_pairs: int) -> dict[str, Any]:
    ok = np.isfinite(values)
    if not ok.any():
        reason = "fewer than two raters" if n_pairs == 0 else "no rater pair has a defined kappa"
        return {"value": None, "reason": reason, "n_pairs": int(ok.sum())}
    return {"value": float(values[ok].mean()), "reason": None, "n_pairs": int(ok.sum())}


def agreement_report(
    ratings: Any,
    *,
    categories: int = 4,
    rater_names: Sequence[str] | None = None,
    levels: Sequence[float] | None = None,
    consensus_rule: Rule | None = None,
    tie: Tie = "nan",
) -> dict[str, Any]:
    """Every agreement statistic of ``ratings (n_items, n_raters)`` as a JSON-safe dict.

    Contents: sizes and missingness, category counts (and unused categories), percent agreement, each
    rater pair (shared items, percent agreement, Cohen's kappa unweighted / linear / quadratic), the mean
    pairwise kappa per weighting (Light's kappa), Fleiss' kappa (``"complete"``: items rated by all;
    ``"available"``: generalisation to every item with >= 2 ratings), Krippendorff's alpha (ordinal,
    interval, nominal), the leave-one-out agreement of Roy et al. (2020), the consensus and, per rater,
    the leave-one-out agreement, bias against the consensus and against the mean of the others, and the
    ``C x C`` confusion against the consensus (rows = consensus score, columns = rater's score).

    Args:
        rater_names: one name per rater (default ``"rater_0"``, ...).
        levels: per-rater validation levels (higher = more expert); used by ``"most_expert"``.
        consensus_rule: ``"majority"``, ``"median"`` or ``"most_expert"``; default ``"most_expert"`` when
            ``levels`` is given, else ``"majority"``.
        tie: tie handling of the consensus (see :func:`ml.agreement.consensus`); the default ``"nan"``
            leaves tied items out of bias and confusion, and counts them under ``consensus.n_ties``.

    Raises:
        ValueError: on a malformed ratings matrix, names or levels of the wrong length, or a bad rule / tie.
    """
    arr = as_ratings(ratings, categories)
    n_items, k = arr.shape
    names = [f"rater_{a}" for a in range(k)] if rater_names is None else [str(x) for x in rater_names]
    if len(names) != k:
        raise ValueError(f"rater_names has {len(names)} names for {k} raters")
    rule: Rule = consensus_rule or ("most_expert" if levels is not None else "majority")
    if rule not in ("majority", "median", "most_expert"):
        raise ValueError(f"consensus_rule must be 'majority', 'median' or 'most_expert', got {rule!r}")
    if tie not in ("lowest", "highest", "nan"):
        raise ValueError(f"tie must be 'lowest', 'highest' or 'nan', got {tie!r}")
    if levels is not None and len(levels) != k:
        raise ValueError(f"levels has {len(levels)} entries for {k} raters")

    present = ~np.isnan(arr)
    counts = item_counts(arr, categories)
    m = counts.sum(axis=1)
    category_counts = counts.sum(axis=0)

    # Consensus; with rule "majority"/"median" reuse the counts instead of re-validating.
    if rule == "majority":
        cons = majority_rule(counts, tie)
        untied = majority_rule(counts, "lowest")
    elif rule == "median":
        cons = median_rule(arr, tie)
        untied = median_rule(arr, "lowest")
    else:
        cons = consensus(arr, rule, levels=levels, tie=tie, categories=categories)
        untied = consensus(arr, rule, levels=levels, tie="lowest", categories=categories)
    n_ties = int((np.isnan(cons) & ~np.isnan(untied)).sum())
    cons_counts = np.bincount(cons[~np.isnan(cons)].astype(np.intp), minlength=categories)

    # Pairs.
    pairs, conf = pair_confusions(arr, categories)
    pair_n = conf.sum(axis=(1, 2))
    pair_agree = np.trace(conf, axis1=1, axis2=2)
    kappas = {_weights_name(w): kappas_from_confusions(conf, w) for w in WEIGHTS}
    pair_rows = []
    for p, (a, b) in enumerate(pairs.tolist()):
        n = int(pair_n[p])
        pair_rows.append(
            {
                "raters": [names[a], names[b]],
                "n_items": n,
                "percent_agreement": _scalar(pair_agree[p] / n if n else np.nan, n, NO_SHARED_ITEMS),
                "cohen_kappa": {
                    w: {"value": _num(vals[p]), "reason": reasons[p], "n_items": n}
                    for w, (vals, reasons) in kappas.items()
                },
            }
        )

    # Raters.
    others = others_reference(arr)
    loo = leave_one_out_matrix(arr, others)
    bias_c, n_c, conf_c = bias_and_confusion(arr, np.broadcast_to(cons[:, None], arr.shape), categories)
    bias_o, n_o, _ = bias_and_confusion(arr, others, categories)
    raters = [
        {
            "name": names[a],
            "level": None if levels is None else _num(levels[a]),
            "n_rated": int(present[:, a].sum()),
            "agreement_with_others": _scalar(loo.per_rater[a], loo.n_items[a], NO_OTHER_RATINGS),
            "bias_vs_consensus": _scalar(bias_c[a], n_c[a], NO_CONSENSUS),
            "bias_vs_others": _scalar(bias_o[a], n_o[a], NO_OTHER_RATINGS),
            "confusion_vs_consensus": conf_c[a].tolist(),
        }
        for a in range(k)
    ]
    loo_defined = int(np.isfinite(loo.per_rater).sum())

    return {
        "n_items": int(n_items),
        "n_raters": int(k),
        "categories": int(categories),
        "rater_names": names,
        "n_ratings": int(present.sum()),
        "missing_fraction": _num(1.0 - present.mean()) if arr.size else None,
        "n_items_rated": int((m > 0).sum()),
        "n_items_multi_rated": int((m >= 2).sum()),
        "category_counts": category_counts.tolist(),
        "unused_categories": np.flatnonzero(category_counts == 0).tolist(),
        "percent_agreement": _stat(percent_statistic(counts)),
        "pairs": pair_rows,
        "mean_pairwise_cohen_kappa": {w: _mean_stat(vals, len(pairs)) for w, (vals, _) in kappas.items()},
        "fleiss_kappa": {
            "complete": _stat(fleiss_statistic(counts, k, "complete", "fleiss")),
            "available": _stat(fleiss_statistic(counts, k, "available", "fleiss")),
        },
        "krippendorff_alpha": {level: _stat(alpha_statistic(counts, level)) for level in LEVELS},
        "leave_one_out_agreement": {
            "value": loo.mean,
            "reason": None if loo.mean is not None else NO_OTHER_RATINGS + " (for every rater)",
            "n_raters": loo_defined,
        },
        "consensus": {
            "rule": rule,
            "tie": tie,
            "n_defined": int((~np.isnan(cons)).sum()),
            "n_ties": n_ties,
            "n_unrated": int((m == 0).sum()),
            "category_counts": cons_counts.tolist(),
        },
        "raters": raters,
    }


def _row(
    statistic: str,
    variant: str | None,
    entry: dict[str, Any],
    rater: str | None = None,
    rater_b: str | None = None,
) -> dict[str, Any]:
    return {
        "statistic": statistic,
        "variant": variant,
        "rater": rater,
        "rater_b": rater_b,
        "value": entry.get("value"),
        "n_items": entry.get("n_items"),
        "reason": entry.get("reason"),
    }


def report_to_csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten :func:`agreement_report` into rows with the keys :data:`CSV_FIELDS` (for ``csv.DictWriter``).

    One row per scalar statistic; pair statistics carry ``rater`` and ``rater_b``, per-rater ones
    ``rater``; confusion cells are rows ``statistic="confusion_vs_consensus"``,
    ``variant="consensus=i,rater=j"`` with the count as value. Undefined values stay ``None`` with a reason.

    Raises:
        KeyError: if ``report`` is not shaped like :func:`agreement_report`'s output.
    """
    rows = [_row("percent_agreement", None, report["percent_agreement"])]
    for variant, entry in report["fleiss_kappa"].items():
        rows.append(_row("fleiss_kappa", variant, entry))
    for level, entry in report["krippendorff_alpha"].items():
        rows.append(_row("krippendorff_alpha", level, entry))
    for w, entry in report["mean_pairwise_cohen_kappa"].items():
        rows.append(_row("mean_pairwise_cohen_kappa", w, {**entry, "n_items": None}))
    rows.append(
        _row("leave_one_out_agreement", "mean", {**report["leave_one_out_agreement"], "n_items": None})
    )
    for pair in report["pairs"]:
        a, b = pair["raters"]
        rows.append(_row("percent_agreement", "pair", pair["percent_agreement"], a, b))
        for w, entry in pair["cohen_kappa"].items():
            rows.append(_row("cohen_kappa", w, entry, a, b))
    for r in report["raters"]:
        for stat in ("agreement_with_others", "bias_vs_consensus", "bias_vs_others"):
            rows.append(_row(stat, None, r[stat], r["name"]))
        for i, line in enumerate(r["confusion_vs_consensus"]):
            for j, count in enumerate(line):
                rows.append(
                    _row(
                        "confusion_vs_consensus",
                        f"consensus={i},rater={j}",
                        {"value": count, "n_items": None, "reason": None},
                        r["name"],
                    )
                )
    return rows
