"""The search objective: patient-level k-fold CV of one embedding configuration, reported fold by fold.

Every trial sees the same folds (:func:`ml.training.patient_folds`, seeded) and the same per-fold training
seeds as :func:`ml.training.cross_validate`, so a trial's value equals the cross-validated figure a model
version records, and the default recipe's value here is its CV figure. After each fold the running mean of
the fold metrics is reported to the trial so a median pruner can stop a poor configuration early (fold
``i`` of every trial holds the same patients, so the comparison at a step is fair).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .space import SpaceError, embedding_config

if TYPE_CHECKING:  # torch and the recipe load when a trial runs: a worker joining a study starts fast
    from ml.embeddings import VideoBag

__all__ = ["OBJECTIVES", "FoldReporter", "Pruned", "bag_evaluator", "check_bags", "cv_objective"]

#: objective name -> the :func:`ml.metrics.scoring.score_report` key it maximises
OBJECTIVES = {"kappa": "quadratic_kappa", "f1": "f1_weighted"}

#: ``(step, running value) -> stop?``: how the objective reports each fold (a trial's report + should_prune)
FoldReporter = Callable[[int, float], bool]


class Pruned(Exception):
    """Raised by :func:`cv_objective` when the reporter asks to stop (the caller maps it to its pruning)."""


def check_bags(bags: Sequence[VideoBag], folds: int) -> list[VideoBag]:
    """The labelled bags, refusing data a search cannot run on.

    Raises:
        SpaceError: with no labelled video, or fewer labelled patients than folds (+ validation patients).
    """
    labelled = [b for b in bags if b.score is not None]
    if not labelled:
        raise SpaceError("no labelled video: a search needs video scores to cross-validate against")
    patients = {b.patient for b in labelled}
    if folds < 2:
        raise SpaceError(f"folds must be >= 2, got {folds}")
    if len(patients) < max(folds, 4):
        raise SpaceError(f"{len(patients)} labelled patients are too few for {folds}-fold patient-level CV "
                         "(each fold's training also holds out validation patients)")
    return labelled


def cv_objective(params: Mapping[str, Any], bags: Sequence[VideoBag], folds: Sequence[tuple[list[str], list[str]]], *,
                 objective: str = "kappa", seed: int = 0, report: FoldReporter | None = None,
                 base: Any = None) -> dict[str, Any]:
    """Cross-validate one configuration: ``{"value": mean fold metric, "per_fold": [...], "config": ...}``.

    Raises:
        Pruned: when ``report`` returns True after a fold.
        SpaceError: on an unknown objective or a configuration the recipe refuses.
    """
    from ml.metrics.scoring import score_report
    from ml.training.embedding import (
        bag_predictions,
        finding_truth,
        frame_aggregate_probs,
        train_embedding_model,
    )

    if objective not in OBJECTIVES:
        raise SpaceError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    key = OBJECTIVES[objective]
    config, aggregator = embedding_config(params, base)
    config = dataclasses.replace(config, seed=seed)
    labelled = [b for b in bags if b.score is not None]
    per_fold: list[dict[str, Any]] = []
    for index, (_, test_patients) in enumerate(folds):
        held = set(test_patients)
        test = [b for b in labelled if b.patient in held]
        result = train_embedding_model(dataclasses.replace(config, seed=seed + index),
                                       [b for b in labelled if b.patient not in held])
        predictions = bag_predictions(result.model, test)
        probs = (np.array([p["probs"] for p in predictions]) if aggregator == "head"
                 else frame_aggregate_probs(predictions))
        truth = np.array([int(b.score) for b in test])  # type: ignore[arg-type]
        per_fold.append(score_report(truth, probs, findings=finding_truth(test, predictions, config.findings)))
        running = float(np.mean([f[key] for f in per_fold]))
        # the last fold is reported but never pruned: the trial's full CV is already paid for
        if report is not None and report(index, running) and index < len(folds) - 1:
            raise Pruned(f"pruned after fold {index + 1} at {running:.4f}")
    value = float(np.mean([f[key] for f in per_fold]))
    return {"value": value, "std": float(np.std([f[key] for f in per_fold])), "per_fold": per_fold,
            "config": config.to_dict(), "aggregator": aggregator}


def bag_evaluator(bags: Sequence[VideoBag], *, folds: int = 5, objective: str = "kappa", seed: int = 0,
                  base: Any = None) -> Callable[[Mapping[str, Any], FoldReporter], dict[str, Any]]:
    """The search's evaluate function over embedded videos: the folds are drawn once (patient level, seeded)
    and every configuration is cross-validated on them (:func:`cv_objective`).

    Raises:
        SpaceError: on data a search cannot run on (:func:`check_bags`) or an unknown objective.
    """
    from ml.training.embedding import patient_folds

    if objective not in OBJECTIVES:
        raise SpaceError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    labelled = check_bags(bags, folds)
    split = patient_folds(labelled, folds, seed)

    def evaluate(params: Mapping[str, Any], report: FoldReporter) -> dict[str, Any]:
        result = cv_objective(params, labelled, split, objective=objective, seed=seed, report=report, base=base)
        key = OBJECTIVES[objective]
        return {"value": result["value"], "std": result["std"], "config": result["config"],
                "aggregator": result["aggregator"], "per_fold": [round(float(f[key]), 4) for f in result["per_fold"]],
                "per_fold_other": [{k: round(float(f[k]), 4) for k in OBJECTIVES.values()} for f in result["per_fold"]]}

    return evaluate
