"""Patient-level splits: no patient's frames ever end up on both sides of a split.

Both functions accept a sequence of patient ids (one per frame/video or already unique) and optional
``labels`` aligned with it; with labels, splits are stratified by each patient's *maximum* score.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, TypeVar

__all__ = [
    "patient_kfold",
    "patient_max_scores",
    "patient_train_test_split",
    "rows_for_patients",
    "rows_train_test_split",
]

P = TypeVar("P", bound=Hashable)
R = TypeVar("R")


def patient_max_scores(patients: Sequence[P], labels: Sequence[int]) -> dict[P, int]:
    """``{patient: max label}``.

    Raises:
        ValueError: if the sequences differ in length.
    """
    if len(patients) != len(labels):
        raise ValueError(f"patients ({len(patients)}) and labels ({len(labels)}) differ in length")
    out: dict[P, int] = {}
    for p, y in zip(patients, labels, strict=True):
        out[p] = max(out.get(p, int(y)), int(y))
    return out


def _ordered_patients(patients: Sequence[P], labels: Sequence[int] | None, seed: int) -> list[P]:
    """Unique patients shuffled with ``seed``; with labels, grouped by max score (each stratum shuffled)."""
    unique = sorted(set(patients), key=lambda p: str(p))
    rng = random.Random(seed)
    if labels is None:
        rng.shuffle(unique)
        return unique
    strata = patient_max_scores(patients, labels)
    ordered: list[P] = []
    for s in sorted(set(strata.values())):
        group = [p for p in unique if strata[p] == s]
        rng.shuffle(group)
        ordered.extend(group)
    return ordered


def patient_train_test_split(
    patients: Sequence[P],
    test_fraction: float = 0.2,
    seed: int = 0,
    *,
    labels: Sequence[int] | None = None,
) -> tuple[list[P], list[P]]:
    """Split the unique patients into train / test.

    Args:
        patients: patient ids (duplicates allowed).
        test_fraction: fraction of *patients* in the test set, in ``(0, 1)``.
        seed: RNG seed.
        labels: optional per-entry scores for stratification by patient max score.

    Returns:
        ``(train_patients, test_patients)``, disjoint, together all patients; at least one in each.

    Raises:
        ValueError: if ``test_fraction`` is not in ``(0, 1)`` or there are fewer than two patients.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    ordered = _ordered_patients(patients, labels, seed)
    n = len(ordered)
    if n < 2:
        raise ValueError(f"need at least two patients to split, got {n}")
    n_test = min(n - 1, max(1, round(test_fraction * n)))
    # systematic sampling over the (stratum-ordered) list gives a proportional, stratified choice
    offset = random.Random(seed + 1).random()
    picks = {min(n - 1, int((i + offset) * n / n_test)) for i in range(n_test)}
    test = [p for i, p in enumerate(ordered) if i in picks]
    train = [p for i, p in enumerate(ordered) if i not in picks]
    return train, test


def patient_kfold(
    patients: Sequence[P],
    k: int = 5,
    seed: int = 0,
    *,
    labels: Sequence[int] | None = None,
) -> list[tuple[list[P], list[P]]]:
    """Patient-level k-fold cross-validation.

    Patients are shuffled (within max-score strata when ``labels`` are given) and dealt round-robin to the
    folds, so each fold's test set has ``floor(n/k)`` or ``ceil(n/k)`` patients and a similar score mix.

    Returns:
        ``k`` pairs ``(train_patients, test_patients)``; the test sets partition the patients.

    Raises:
        ValueError: if ``k < 2`` or ``k`` exceeds the number of unique patients.
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int >= 2, got {k!r}")
    ordered = _ordered_patients(patients, labels, seed)
    if k > len(ordered):
        raise ValueError(f"k={k} folds but only {len(ordered)} unique patients")
    folds: list[list[P]] = [[] for _ in range(k)]
    for i, p in enumerate(ordered):
        folds[i % k].append(p)
    out = []
    for i in range(k):
        test = set(folds[i])
        out.append(([p for p in ordered if p not in test], list(folds[i])))
    return out


def rows_for_patients(rows: Iterable[R], patients: Iterable[Hashable], *, key: str = "patient") -> list[R]:
    """The rows (objects or dicts) whose ``patient`` is in ``patients``."""
    wanted = set(patients)
    return [r for r in rows if (r[key] if isinstance(r, dict) else getattr(r, key)) in wanted]


def rows_train_test_split(rows: Sequence[R], test_fraction: float = 0.2, seed: int = 0) -> tuple[list[R], list[R]]:
    """Split rows with ``patient`` and ``score`` attributes (e.g. :class:`ml.data.ManifestRow`) by patient with
    :func:`patient_train_test_split`, stratified by each patient's maximum score (patients with no labelled row
    form a stratum of their own). Row order is kept on each side.

    Raises:
        ValueError: as :func:`patient_train_test_split`.
    """
    items: Sequence[Any] = rows
    patients = [r.patient for r in items]
    labels = [-1 if r.score is None else int(r.score) for r in items]
    train, test = patient_train_test_split(patients, test_fraction, seed, labels=labels)
    return rows_for_patients(rows, train), rows_for_patients(rows, test)
