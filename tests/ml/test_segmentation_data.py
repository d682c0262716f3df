"""Segmentation samples: the 260x200 letterbox of frames and masks, its inverse, balanced batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ml.data import (
    SEG_SIZE,
    SegmentationSample,
    balanced_order,
    load_samples,
    mask_score,
    phantom_segmentation_samples,
    restore_original,
)


def test_paper_size_and_letterbox_of_frame_and_mask():
    assert SEG_SIZE == (200, 260)
    image = np.full((100, 100), 200, np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    mask[40:60, 10:30] = 3
    frame, resized, info = SegmentationSample(image=image, mask=mask, patient="p").load(SEG_SIZE)
    assert frame.shape == resized.shape == (200, 260)
    assert info.scale == 2.0 and (info.top, info.left) == (0, 30)
    assert (frame[:, :30] == 0).all() and (frame[:, 230:] == 0).all() and (frame[:, 30:230] == 200).all()
    assert set(np.unique(resized)) == {0, 3}  # nearest neighbour: no blended class ids
    assert (resized[80:120, 50:90] == 3).all() and resized[80:120, 50:90].size == int((resized == 3).sum())
    np.testing.assert_array_equal(restore_original(resized, info, nearest=True), mask)


def test_restore_original_continuous_maps():
    image = np.zeros((50, 80), np.uint8)
    _, _, info = SegmentationSample(image=image, mask=image, patient="p").load((40, 40))
    values = np.full((40, 40), 0.25, np.float32)
    back = restore_original(values, info, nearest=False)
    assert back.shape == (50, 80) and np.allclose(back, 0.25)


def test_files_and_errors(tmp_path: Path):
    image = np.arange(64 * 48, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:20] = 4
    cv2.imwrite(str(tmp_path / "f.png"), image)
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    frames, masks = load_samples([SegmentationSample(image=tmp_path / "f.png", mask=tmp_path / "m.png", patient="p")],
                                 (48, 64))
    assert frames.shape == (1, 1, 48, 64) and masks.shape == (1, 48, 64)
    np.testing.assert_array_equal(masks[0].numpy(), mask)
    with pytest.raises(ValueError, match="differ in size"):
        SegmentationSample(image=image, mask=mask[:10], patient="p").load((48, 64))
    with pytest.raises(FileNotFoundError):
        SegmentationSample(image=tmp_path / "f.png", mask=tmp_path / "nope.png", patient="p").load((48, 64))
    with pytest.raises(ValueError, match="no segmentation samples"):
        load_samples([])


def test_balanced_order_spreads_over_scores_then_patients():
    # score 0: patient a has 90 frames, b 10; score 3: patient c has 5 frames
    patients = ["a"] * 90 + ["b"] * 10 + ["c"] * 5
    scores = [0] * 100 + [3] * 5
    order = balanced_order(patients, scores, 20000, seed=0, epoch=1)
    drawn = Counter((patients[i], scores[i]) for i in order.tolist())
    share = {k: v / 20000 for k, v in drawn.items()}
    assert share[("c", 3)] == pytest.approx(0.5, abs=0.02)
    assert share[("a", 0)] == pytest.approx(0.25, abs=0.02) and share[("b", 0)] == pytest.approx(0.25, abs=0.02)
    assert torch.equal(balanced_order(patients, scores, 20000, seed=0, epoch=1), order)  # a pure function
    assert balanced_order(patients, scores, 50, seed=0, epoch=2).tolist() != balanced_order(
        patients, scores, 50, seed=0, epoch=3).tolist()
    with pytest.raises(ValueError):
        balanced_order(["a"], [0, 1], 3, seed=0, epoch=1)


def test_phantom_samples_have_exact_masks():
    samples = phantom_segmentation_samples(n_patients=2, videos_per_patient=2, n_frames=5, height=64, width=80,
                                           frame_step=2)
    assert len(samples) == 2 * 2 * 3
    assert {s.patient for s in samples} == {"p0", "p1"}
    for s in samples:
        assert isinstance(s.image, np.ndarray) and s.image.shape == s.mask.shape == (64, 80)
        assert 0 <= mask_score(s.mask) <= 3
    assert mask_score(np.zeros((2, 2), np.uint8)) == -1
