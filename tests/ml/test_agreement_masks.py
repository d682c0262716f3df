"""Pairwise Dice / IoU and majority-vote masks, checked against direct per-pair / per-pixel loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ml.agreement import (
    COVID_MARKERS,
    DEFAULT_CLASSES,
    consensus_mask,
    consensus_mask_batch,
    pairwise_dice,
    pairwise_dice_batch,
)


def random_masks(seed: int, shape: tuple[int, ...], n_labels: int = 5, p_bg: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.integers(1, n_labels, size=shape).astype(np.uint8)
    m[rng.random(shape) < p_bg] = 0
    return m


def loop_dice(a: np.ndarray, b: np.ndarray, members: list[int]) -> tuple[float, float]:
    """Reference Dice / IoU of two label images for the pooled class set ``members`` (NaN if both empty)."""
    x, y = np.isin(a, members), np.isin(b, members)
    inter, sx, sy = int((x & y).sum()), int(x.sum()), int(y.sum())
    if sx + sy == 0:
        return np.nan, np.nan
    return 2 * inter / (sx + sy), inter / (sx + sy - inter)


@pytest.mark.parametrize(("n_frames", "h", "w"), [(3, 17, 23), (2, 8, 8), (1, 1, 3)])
def test_pairwise_dice_matches_loop(n_frames: int, h: int, w: int) -> None:
    masks = random_masks(n_frames * h, (n_frames, 4, h, w))
    out = pairwise_dice_batch(masks)
    assert out["classes"] == list(DEFAULT_CLASSES) and out["union"] == list(COVID_MARKERS)
    pairs = out["pairs"].tolist()
    assert pairs == [[a, b] for a in range(4) for b in range(a + 1, 4)]
    for key, members in [*((c, [c]) for c in DEFAULT_CLASSES), ("union", list(COVID_MARKERS))]:
        assert out["dice"][key].shape == (n_frames, 6)
        for f in range(n_frames):
            for p, (a, b) in enumerate(pairs):
                d, j = loop_dice(masks[f, a], masks[f, b], members)
                np.testing.assert_equal(out["dice"][key][f, p], d)
                np.testing.assert_allclose(out["dice"][key][f, p], d, atol=1e-12)
                np.testing.assert_allclose(out["iou"][key][f, p], j, atol=1e-12)
            for a in range(4):
                assert out["area"][key][f, a] == np.isin(masks[f, a], members).sum()
        finite = out["dice"][key][np.isfinite(out["dice"][key])]
        assert out["mean_dice"][key] == (pytest.approx(finite.mean()) if finite.size else None)


@settings(max_examples=30, deadline=None)
@given(
    masks=hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 9), st.integers(1, 70)),
        elements=st.integers(0, 11),
    ),
    classes=st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True),
)
def test_pairwise_dice_any_labels(masks: np.ndarray, classes: list[int]) -> None:
    out = pairwise_dice_batch(masks, classes, union=classes, n_labels=12)
    for p, (a, b) in enumerate(out["pairs"].tolist()):
        for f in range(masks.shape[0]):
            for c in classes:
                d, j = loop_dice(masks[f, a], masks[f, b], [c])
                np.testing.assert_allclose(out["dice"][c][f, p], d, atol=1e-12)
                np.testing.assert_allclose(out["iou"][c][f, p], j, atol=1e-12)
            d, _ = loop_dice(masks[f, a], masks[f, b], classes)
            np.testing.assert_allclose(out["dice"]["union"][f, p], d, atol=1e-12)


def test_background_class_counts_only_real_pixels() -> None:
    # 5 x 7 = 35 pixels: not a multiple of 8 or 64, so the bit-packing pads; padding must not count as class 0.
    masks = np.zeros((2, 5, 7), dtype=np.uint8)
    masks[1, 0, :3] = 2
    out = pairwise_dice(masks, classes=(0, 2))
    assert out["area"][0].tolist() == [35, 32]
    assert out["dice"][0][0] == pytest.approx(2 * 32 / 67)
    assert out["dice"][2][0] == 0.0
    assert out["iou"]["union"][0] == 0.0


def test_single_frame_shapes_and_empty_convention() -> None:
    masks = np.zeros((3, 6, 6), dtype=np.uint8)
    masks[0, 1:3, 1:3] = 1
    masks[1, 1:3, 1:4] = 1
    out = pairwise_dice(masks)
    assert out["dice"][1].shape == (3,) and out["area"][1].shape == (3,)
    assert out["dice"][1][0] == pytest.approx(2 * 4 / 10) and out["iou"][1][0] == pytest.approx(4 / 6)
    assert out["dice"][1][1] == 0.0  # rater 0 drew it, rater 2 did not
    assert np.isnan(out["dice"][3]).all()  # nobody drew class 3: 0/0
    assert out["mean_dice"][3] is None
    filled = pairwise_dice(masks, empty=1.0)
    np.testing.assert_array_equal(filled["dice"][3], 1.0)
    no_union = pairwise_dice(masks, union=None)
    assert "union" not in no_union["dice"] and no_union["union"] is None


def test_single_rater_has_no_pairs() -> None:
    out = pairwise_dice_batch(random_masks(0, (2, 1, 4, 4)))
    assert out["pairs"].shape == (0, 2)
    assert out["dice"][1].shape == (2, 0) and out["mean_dice"][1] is None


def test_pairwise_dice_accepts_other_integer_dtypes() -> None:
    masks = random_masks(5, (2, 3, 9, 11))
    ref = pairwise_dice_batch(masks)
    for dtype in (np.int64, np.uint16, np.int8):
        out = pairwise_dice_batch(masks.astype(dtype))
        for key in ref["dice"]:
            np.testing.assert_array_equal(out["dice"][key], ref["dice"][key])


@pytest.mark.parametrize(
    ("masks", "kwargs", "match"),
    [
        (np.zeros((2, 4, 4), dtype=np.uint8), {}, "n_frames, n_raters, H, W"),
        (np.zeros((1, 2, 4, 4), dtype=np.float32), {}, "integer"),
        (np.full((1, 2, 4, 4), 5, dtype=np.uint8), {}, "outside 0..4"),
        (np.full((1, 2, 4, 4), -1, dtype=np.int16), {}, "outside 0..4"),
        (np.zeros((1, 2, 4, 4), dtype=np.uint8), {"classes": (1, 7)}, "classes"),
        (np.zeros((1, 2, 4, 4), dtype=np.uint8), {"union": (9,)}, "union"),
        (np.zeros((1, 2, 4, 4), dtype=np.uint8), {"n_labels": 1}, "n_labels"),
        (np.zeros((1, 2, 4, 4), dtype=np.uint8), {"n_labels": 300}, "n_labels"),
    ],
)
def test_pairwise_dice_bad_input(masks: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pairwise_dice_batch(masks, **kwargs)


def test_pairwise_dice_single_frame_needs_3d() -> None:
    with pytest.raises(ValueError, match="n_raters, H, W"):
        pairwise_dice(np.zeros((1, 2, 4, 4), dtype=np.uint8))


# ------------------------------------------------------------------------------- consensus masks


def loop_consensus(masks: np.ndarray, n_labels: int, min_votes: int | None = None) -> np.ndarray:
    _, h, w = masks.shape
    out = np.zeros((h, w), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            counts = np.bincount(masks[:, y, x], minlength=n_labels)
            top = counts.max()
            winners = np.flatnonzero(counts == top)
            if winners.size == 1 and (min_votes is None or top >= min_votes):
                out[y, x] = winners[0]
    return out


def test_consensus_mask_ties_go_to_background() -> None:
    masks = np.array([[[1, 2, 3, 0]], [[1, 2, 4, 3]], [[2, 4, 4, 3]], [[2, 4, 1, 0]]], dtype=np.uint8)
    # pixel 0: 1,1,2,2 tie -> 0; pixel 1: 2,2,4,4 tie -> 0; pixel 2: 3,4,4,1 -> 4; pixel 3: 0,3,3,0 tie -> 0
    np.testing.assert_array_equal(consensus_mask(masks), [[0, 0, 4, 0]])
    masks3 = masks[:3]  # pixel 0: 1,1,2 -> 1 ; pixel 3: 0,3,3 -> 3 ; pixel 2: 3,4,4 -> 4
    np.testing.assert_array_equal(consensus_mask(masks3), [[1, 2, 4, 3]])
    np.testing.assert_array_equal(consensus_mask(masks3, min_votes=2), [[1, 2, 4, 3]])
    votes = np.array([[[1, 1]], [[1, 2]], [[1, 2]]], dtype=np.uint8)  # 3 votes for 1; 2 votes for 2
    np.testing.assert_array_equal(consensus_mask(votes), [[1, 2]])
    np.testing.assert_array_equal(consensus_mask(votes, min_votes=3), [[1, 0]])


@pytest.mark.parametrize(
    ("n_raters", "n_labels", "min_votes"), [(5, 5, None), (4, 5, None), (3, 12, 2), (1, 5, None)]
)
def test_consensus_mask_matches_loop(n_raters: int, n_labels: int, min_votes: int | None) -> None:
    masks = random_masks(n_raters, (3, n_raters, 7, 9), n_labels=n_labels, p_bg=0.3)
    batch = consensus_mask_batch(masks, n_labels=n_labels, min_votes=min_votes)
    assert batch.shape == (3, 7, 9) and batch.dtype == np.uint8
    for f in range(3):
        expected = loop_consensus(masks[f], n_labels, min_votes)
        np.testing.assert_array_equal(batch[f], expected)
        np.testing.assert_array_equal(
            consensus_mask(masks[f], n_labels=n_labels, min_votes=min_votes), expected
        )


def test_consensus_mask_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one rater"):
        consensus_mask(np.zeros((0, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="min_votes"):
        consensus_mask(np.zeros((3, 4, 4), dtype=np.uint8), min_votes=4)
    with pytest.raises(ValueError, match="n_frames, n_raters, H, W"):
        consensus_mask_batch(np.zeros((3, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="outside"):
        consensus_mask(np.full((2, 2, 2), 5, dtype=np.uint8))
