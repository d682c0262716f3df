"""Table IV metrics against values counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ml.metrics import categorical_dice, dice, pixel_accuracy, segmentation_metrics

# 3 x 4 masks; class ids 0 background, 1..4 markers of scores 0..3
TRUTH = np.array([[0, 1, 1, 0],
                  [2, 2, 3, 3],
                  [4, 4, 0, 0]], dtype=np.uint8)
PRED = np.array([[0, 1, 0, 0],
                 [2, 3, 3, 3],
                 [4, 0, 0, 1]], dtype=np.uint8)


def test_pixel_accuracy():
    # wrong: (0,2) 1->0, (1,1) 2->3, (2,1) 4->0, (2,3) 0->1: 8 of 12 right
    assert pixel_accuracy(PRED, TRUTH) == pytest.approx(8 / 12)


def test_dice_per_class_and_union():
    # class 1: |P|=2 {(0,1),(2,3)}, |T|=2 {(0,1),(0,2)}, overlap 1 -> 2/4
    assert dice(PRED, TRUTH, [1]) == pytest.approx(0.5)
    # class 3: |P|=3, |T|=2, overlap 2 -> 4/5
    assert dice(PRED, TRUTH, [3]) == pytest.approx(0.8)
    # class 4: |P|=1, |T|=2, overlap 1 -> 2/3
    assert dice(PRED, TRUTH, [4]) == pytest.approx(2 / 3)
    # union of COVID-19 markers (2, 3, 4): |P|=5 {(1,0),(1,1),(1,2),(1,3),(2,0)}, |T|=6, overlap 5 -> 10/11
    assert dice(PRED, TRUTH, [2, 3, 4]) == pytest.approx(10 / 11)


def test_categorical_dice_is_the_mean_over_scores_0_2_3():
    assert categorical_dice(PRED, TRUTH) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_absent_classes_are_nan_and_left_out_of_the_mean():
    truth = np.array([[0, 3], [3, 0]])
    pred = np.array([[0, 3], [0, 0]])
    assert math.isnan(dice(pred, truth, [1]))
    assert categorical_dice(pred, truth) == pytest.approx(2 / 3)  # only class 3 is defined
    assert math.isnan(categorical_dice(np.zeros((2, 2), int), np.zeros((2, 2), int)))


def test_summary_and_tensors():
    result = segmentation_metrics(torch.from_numpy(PRED), torch.from_numpy(TRUTH))
    assert result["pixel_accuracy"] == pytest.approx(8 / 12)
    assert result["dice_union"] == pytest.approx(10 / 11)
    assert result["dice_categorical"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert result["dice_per_class"][2] == pytest.approx(2 * 1 / (1 + 2))
    # pooled over frames: a batch is counted like one large image
    stacked = segmentation_metrics(np.stack([PRED, PRED]), np.stack([TRUTH, TRUTH]))
    assert stacked["dice_union"] == pytest.approx(10 / 11)


def test_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_accuracy(PRED, TRUTH[:2])
    with pytest.raises(ValueError, match="integer class ids"):
        dice(PRED.astype(float), TRUTH, [1])
