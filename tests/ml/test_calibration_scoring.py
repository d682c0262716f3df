"""Calibration (ml.metrics.calibration) and the video score report (ml.metrics.scoring), checked against
hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score, f1_score, roc_auc_score

from ml.metrics.calibration import expected_calibration_error, fit_temperature, softmax
from ml.metrics.scoring import binary_auc, quadratic_kappa, score_report


def test_softmax_rows_and_temperature() -> None:
    z = np.array([[1000.0, 1000.0, 0.0], [0.0, np.log(3.0), -np.inf]])
    p = softmax(z)
    assert p.dtype == np.float64 and np.isfinite(p).all()
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]], atol=1e-12)
    z = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(softmax(z, 2.0), softmax(z / 2.0))


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(2, 5)),
              elements=st.floats(-30, 30, allow_nan=False)),
       st.floats(0.05, 20.0))
def test_softmax_is_a_distribution(z: np.ndarray, temperature: float) -> None:
    p = softmax(z, temperature)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p[np.arange(len(z)), z.argmax(1)], p.max(1))  # the order of the logits is kept


def test_ece_perfect_and_confidently_wrong() -> None:
    labels = np.array([0, 1, 2, 3, 1, 2])
    one_hot = np.eye(4)[labels]
    assert expected_calibration_error(one_hot, labels) == 0.0
    wrong = np.full((6, 4), 0.01 / 3)
    wrong[np.arange(6), (labels + 1) % 4] = 0.99
    assert expected_calibration_error(wrong, labels) == pytest.approx(0.99)


def test_ece_by_hand() -> None:
    # bin [0.6, 0.7): confidences 0.6, 0.6 with one right -> |0.5 - 0.6| = 0.1, half the samples
    # bin [0.9, 1.0]: confidences 0.9, 1.0, both right -> |1 - 0.95| = 0.05, half the samples
    probs = np.array([[0.6, 0.4], [0.4, 0.6], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.1 + 0.5 * 0.05)
    with pytest.raises(ValueError):
        expected_calibration_error(np.zeros((0, 4)), np.zeros(0))
    with pytest.raises(ValueError):
        expected_calibration_error(np.full((3, 4), 0.25), np.zeros(2))
    with pytest.raises(ValueError):
        expected_calibration_error(np.full(4, 0.25), np.zeros(4))


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_ece_is_between_zero_and_one(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    probs = softmax(rng.standard_normal((n, 4)) * 3)
    assert 0.0 <= expected_calibration_error(probs, rng.integers(0, 4, n)) <= 1.0


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3000, 4)) * 4.0
    truth = softmax(z, 2.0)
    labels = np.array([rng.choice(4, p=row) for row in truth])
    fitted = fit_temperature(z, labels)
    assert 1.5 <= fitted <= 2.7
    # over-confident logits get T > 1 and a lower ECE; the predicted class never changes
    assert expected_calibration_error(softmax(z, fitted), labels) < expected_calibration_error(softmax(z), labels)
    # scaling the logits scales the temperature (up to the grid)
    assert fit_temperature(3.0 * z, labels) == pytest.approx(3.0 * fitted, rel=0.1)


def test_fit_temperature_refusals_and_grid() -> None:
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3, 4)), np.zeros(2, int))
    # perfectly separated, correct logits: the sharpest temperature on the grid wins
    z = np.eye(4)[[0, 1, 2, 3]] * 5.0
    assert fit_temperature(z, np.arange(4), low=0.1, high=10.0) == pytest.approx(0.1)


def test_quadratic_kappa_matches_sklearn() -> None:
    y_true = [0, 1, 2, 3, 3, 2, 1, 0, 2, 3]
    y_pred = [0, 2, 2, 3, 1, 2, 0, 0, 3, 3]
    assert quadratic_kappa(y_true, y_pred) == pytest.approx(cohen_kappa_score(y_true, y_pred, weights="quadratic"))
    assert quadratic_kappa(y_true, y_true) == pytest.approx(1.0)
    # missing classes: the score scale still fixes the weights
    assert quadratic_kappa([0, 1, 1], [0, 1, 0]) == pytest.approx(
        cohen_kappa_score([0, 1, 1], [0, 1, 0], weights="quadratic", labels=[0, 1, 2, 3]))
    assert quadratic_kappa([2, 2, 2], [2, 2, 2]) == 0.0  # undefined with one class
    assert quadratic_kappa([], []) == 0.0


def test_binary_auc() -> None:
    assert binary_auc([True, True], [0.2, 0.9]) is None
    assert binary_auc([0, 0, 0], [0.2, 0.9, 0.1]) is None
    y, s = [0, 1, 1, 0, 1], [0.1, 0.8, 0.3, 0.4, 0.9]
    assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert binary_auc([False, True], [0.9, 0.1]) == 0.0


def test_score_report() -> None:
    truth = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    probs = np.eye(4)[[0, 1, 2, 3, 2, 2, 0, 0]] * 0.7 + 0.075
    present = np.array([True, False, True, False])
    report = score_report(truth, probs, findings={"b_lines": (present, np.array([0.9, 0.2, 0.6, 0.4])),
                                                  "a_lines": (np.ones(3, bool), np.array([0.5, 0.6, 0.7]))})
    assert set(report) == {"f1_weighted", "f1_macro", "quadratic_kappa", "accuracy", "recall_per_class", "ece",
                           "n_videos", "auc_b_lines", "auc_a_lines"}
    pred = probs.argmax(1)
    assert report["f1_weighted"] == pytest.approx(f1_score(truth, pred, average="weighted"))
    assert report["f1_macro"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert report["accuracy"] == pytest.approx(0.75)
    assert report["recall_per_class"] == pytest.approx([1.0, 0.5, 1.0, 0.5])
    assert report["quadratic_kappa"] == pytest.approx(cohen_kappa_score(truth, pred, weights="quadratic"))
    assert report["n_videos"] == 8
    assert report["auc_b_lines"] == 1.0 and report["auc_a_lines"] is None
    assert 0.0 <= report["ece"] <= 1.0
    only_zero = score_report([0, 0], np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0]]))
    assert len(only_zero["recall_per_class"]) == 4 and only_zero["recall_per_class"][1:] == [0.0, 0.0, 0.0]
    assert not any(k.startswith("auc_") for k in only_zero)
