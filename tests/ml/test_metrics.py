"""Metrics, evaluation settings and report writing: hand-computed values and scikit-learn cross-checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from ml.metrics import (
    confusion_matrix,
    frame_f1,
    setting2_keep_mask,
    setting2_keep_mask_flat,
    setting2_keep_masks,
    setting3_keep_videos,
    to_strict_json,
    video_metrics,
    write_report,
)

Y_TRUE = [0, 0, 1, 1, 2, 3, 3, 3]
Y_PRED = [0, 1, 1, 1, 3, 3, 3, 0]


# --------------------------------------------------------------------------------------------------
# Classification metrics


def test_f1_hand_computed():
    # Per class (precision, recall, F1): 0 (1/2, 1/2, 1/2), 1 (2/3, 1, 4/5), 2 (0, 0, 0), 3 (2/3, 2/3, 2/3);
    # supports 2, 2, 1, 3.
    weighted = (2 * 0.5 + 2 * 0.8 + 1 * 0.0 + 3 * 2 / 3) / 8
    macro = (0.5 + 0.8 + 0.0 + 2 / 3) / 4
    assert frame_f1(Y_TRUE, Y_PRED) == pytest.approx(weighted)
    assert frame_f1(Y_TRUE, Y_PRED, average="macro") == pytest.approx(macro)
    m = video_metrics(Y_TRUE, Y_PRED)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx((2 * 0.5 + 2 * 2 / 3 + 0 + 3 * 2 / 3) / 8)
    assert m["recall"] == pytest.approx(5 / 8)  # weighted recall = accuracy
    assert m["f1"] == pytest.approx(weighted)
    assert set(m) == {"f1", "precision", "recall", "accuracy"}


def test_confusion_matrix_hand_computed_and_sklearn():
    expected = np.array([[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [1, 0, 0, 2]])
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    assert cm.dtype == np.int64 and np.array_equal(cm, expected)
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    assert np.array_equal(confusion_matrix(t, p), skm.confusion_matrix(t, p, labels=range(4)))
    # Absent classes still get their (zero) rows and columns.
    assert np.array_equal(confusion_matrix([0, 0], [0, 0], num_classes=3), [[2, 0, 0], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("seed", range(5))
def test_cross_check_sklearn_random(seed):
    rng = np.random.default_rng(seed)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert frame_f1(t, p) == pytest.approx(skm.f1_score(t, p, average="weighted"))
    assert frame_f1(t, p, "macro") == pytest.approx(skm.f1_score(t, p, average="macro"))
    m = video_metrics(t, p)
    assert m["precision"] == pytest.approx(skm.precision_score(t, p, average="weighted"))
    assert m["recall"] == pytest.approx(skm.recall_score(t, p, average="weighted"))


def test_accepts_tensors_and_handles_absent_classes_quietly():
    t = torch.tensor([0, 0, 3, 3])
    p = torch.tensor([0, 2, 3, 3])  # class 2 predicted but never true, class 1 absent from both
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f1 = frame_f1(t, p)
        macro = frame_f1(t, p, average="macro")
        m = video_metrics(t, p)
        cm = confusion_matrix(t, p)
    # class 0: P 1, R 1/2, F1 2/3; class 3: F1 1; class 2: F1 0 with zero support.
    assert f1 == pytest.approx((2 * 2 / 3 + 2 * 1) / 4)
    assert macro == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert all(np.isfinite(v) for v in m.values())
    assert cm[2].sum() == 0 and cm[0, 2] == 1
    # A single class predicted perfectly.
    assert frame_f1(np.array([1, 1]), np.array([1, 1])) == 1.0


def test_input_validation():
    with pytest.raises(ValueError):
        frame_f1([0, 1], [0])
    with pytest.raises(ValueError):
        frame_f1([], [])
    with pytest.raises(ValueError):
        frame_f1([0, 1], [0, 1], average="micro")
    with pytest.raises(ValueError):
        frame_f1([0.5, 1], [0, 1])
    with pytest.raises(ValueError):
        confusion_matrix([0, 4], [0, 1])
    with pytest.raises(ValueError):
        confusion_matrix([0, -1], [0, 1])
    assert frame_f1(np.array([0.0, 1.0]), [0, 1]) == 1.0  # integral floats are fine


# --------------------------------------------------------------------------------------------------
# Setting 2


def test_setting2_hand_computed():
    scores = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])  # transitions before frames 3 and 7
    assert setting2_keep_mask(scores, 0).all()
    assert setting2_keep_mask(scores, 1).tolist() == [1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    assert setting2_keep_mask(scores, 2).tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert not setting2_keep_mask(scores, 3).any()
    assert setting2_keep_mask(np.full(6, 2), 7).all()  # no transition, nothing dropped
    assert setting2_keep_mask(np.array([], dtype=int), 3).shape == (0,)


@pytest.mark.parametrize("k", [0, 1, 3, 5, 7])
def test_setting2_matches_brute_force(k):
    rng = np.random.default_rng(k)
    scores = np.repeat(rng.integers(0, 4, 12), rng.integers(1, 9, 12))
    transitions = [b for b in range(1, len(scores)) if scores[b] != scores[b - 1]]
    expected = [all(abs(j - (b - 0.5)) >= k for b in transitions) for j in range(len(scores))]
    assert setting2_keep_mask(scores, k).tolist() == expected


def test_setting2_many_videos_do_not_leak_across_boundaries():
    videos = [np.array([0, 0, 1, 1]), np.array([1, 1, 1]), np.array([2, 3])]
    masks = setting2_keep_masks(videos, 1)
    assert [m.tolist() for m in masks] == [[True, False, False, True], [True, True, True], [False, False]]
    # Video 1 starts with the score video 0 ended on / video 2 starts with a different one: neither is a
    # transition, so frames at the start of a video are untouched by the previous one.
    flat = setting2_keep_mask_flat(np.concatenate(videos), np.repeat([7, 3, 9], [4, 3, 2]), 1)
    assert flat.tolist() == [m for mask in masks for m in mask.tolist()]
    assert setting2_keep_masks([], 3) == []
    with pytest.raises(ValueError):
        setting2_keep_mask_flat([0, 1, 0], [1, 2, 1], 1)  # video 1 not contiguous
    with pytest.raises(ValueError):
        setting2_keep_mask([0, 1], -1)
    with pytest.raises(ValueError):
        setting2_keep_mask([[0, 1]], 1)
    with pytest.raises(ValueError):
        setting2_keep_mask([0.0, np.nan], 1)


# --------------------------------------------------------------------------------------------------
# Setting 3


def test_setting3_hand_computed():
    nan = np.nan
    scores = np.array(
        [
            [1, 1, nan, 2],  # two agree
            [0, 1, 2, 3],  # nobody agrees
            [nan, nan, nan, nan],  # unannotated
            [3, 3, 3, 3],  # all agree
            [2, 2, 2, nan],  # three agree, one missing
        ]
    )
    assert setting3_keep_videos(scores, 1).tolist() == [True, True, False, True, True]
    assert setting3_keep_videos(scores, 2).tolist() == [True, False, False, True, True]
    assert setting3_keep_videos(scores, 3).tolist() == [False, False, False, True, True]
    assert setting3_keep_videos(scores, 4).tolist() == [False, False, False, True, False]
    with pytest.raises(ValueError):
        setting3_keep_videos(scores, 5)
    with pytest.raises(ValueError):
        setting3_keep_videos(scores, 0)
    with pytest.raises(ValueError):
        setting3_keep_videos(scores[0], 1)


# --------------------------------------------------------------------------------------------------
# Report


def test_write_report(tmp_path):
    metrics = {
        "f1": np.float32(0.5),
        "bad": float("nan"),
        "inf": float("inf"),
        "per_class": np.array([0.1, np.nan]),
        "n": np.int64(3),
        "nested": {"t": torch.tensor(2.5), "tuple": (1, 2)},
    }
    history = [
        {"epoch": 1, "train_loss": 1.2, "val_loss": 1.3, "val_f1": 0.4},
        {"epoch": 2, "train_loss": 0.9, "val_loss": float("nan"), "val_f1": 0.5},
        {"epoch": 3, "train_loss": 0.7, "val_f1": None},
    ]
    out = write_report(tmp_path / "run", metrics=metrics, confusion=np.eye(4, dtype=int) * 3, history=history)
    assert set(out) == {"metrics", "confusion", "curves"}
    text = out["metrics"].read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["f1"] == 0.5 and data["bad"] is None and data["inf"] is None
    assert data["per_class"] == [pytest.approx(0.1), None] and data["n"] == 3
    assert data["nested"] == {"t": 2.5, "tuple": [1, 2]}
    for key in ("confusion", "curves"):
        assert out[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_report_metrics_only_and_validation(tmp_path):
    out = write_report(tmp_path, metrics={"accuracy": 1.0})
    assert set(out) == {"metrics"} and not (tmp_path / "confusion.png").exists()
    with pytest.raises(ValueError):
        write_report(tmp_path, metrics={}, confusion=np.zeros((2, 3)))
    with pytest.raises(ValueError):
        write_report(tmp_path, metrics={}, confusion=np.zeros((3, 3)))  # 4 default class names
    with pytest.raises(ValueError):
        to_strict_json(object())


def test_report_is_headless_and_avoids_pyplot(tmp_path):
    # A GUI backend requested through the environment and no display: must still work, without pyplot.
    code = (
        "import sys, numpy as np; from ml.metrics import write_report; "
        f"write_report({str(tmp_path)!r}, metrics={{}}, confusion=np.ones((2, 2)), class_names=('a', 'b'), "
        "history=[{'loss': 1.0}]); assert 'matplotlib.pyplot' not in sys.modules"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert (tmp_path / "confusion.png").exists() and (tmp_path / "curves.png").exists()
