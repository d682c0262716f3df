"""Model pre-annotation (ml.tracks.preannotate): masks and probability maps -> valid polygons within the
vertex budget, small specks dropped."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.geometry import polygon_problems, polygons_to_mask
from ml.tracks import masks_to_preannotations, simplify_to_budget


def blob_mask() -> np.ndarray:
    mask = np.zeros((120, 160), dtype=np.uint8)
    cv2.ellipse(mask, (60, 60), (40, 25), 20, 0, 360, 4, -1)  # a consolidation-like blob, class 4
    cv2.circle(mask, (130, 30), 15, 2, -1)  # class 2
    mask[100:102, 10:12] = 2  # a 4-pixel speck
    return mask


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.mark.parametrize("budget", [4, 8, 16, 40])
def test_polygons_fit_the_vertex_budget_and_are_valid(budget: int) -> None:
    mask = blob_mask()
    found = masks_to_preannotations(mask, max_vertices=budget, min_area=50.0)
    assert sorted(p.class_id for p in found) == [2, 4]  # the speck is dropped
    for p in found:
        assert 3 <= p.polygon.shape[0] <= budget
        assert polygon_problems(p.polygon.tolist(), width=160, height=120) == []
        assert p.confidence == 1.0 and p.area >= 50.0
        drawn = polygons_to_mask({p.class_id: [p.polygon]}, mask.shape) == p.class_id
        assert dice(drawn, mask == p.class_id) > (0.75 if budget == 4 else 0.95)  # 4 vertices: a square in a disc


def test_probability_maps_threshold_and_confidence() -> None:
    mask = blob_mask()
    probs = np.zeros((5, *mask.shape), dtype=np.float32)
    probs[0] = 1.0
    probs[:, mask > 0] = 0.0
    probs[4][mask == 4] = 0.9
    probs[0][mask == 4] = 0.1
    probs[2][mask == 2] = 0.4  # under the threshold: background there
    probs[0][mask == 2] = 0.35
    found = masks_to_preannotations(probs, threshold=0.5)
    assert [p.class_id for p in found] == [4]
    assert found[0].confidence == pytest.approx(0.9, abs=0.02)
    assert [p.class_id for p in masks_to_preannotations(probs, threshold=0.3)] == [2, 4]


def test_min_area_and_bad_input() -> None:
    assert masks_to_preannotations(blob_mask(), min_area=1e5) == []
    assert masks_to_preannotations(np.zeros((10, 10), dtype=np.uint8)) == []
    with pytest.raises(ValueError, match="class mask"):
        masks_to_preannotations(np.zeros((2, 3, 4, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="max_vertices"):
        simplify_to_budget(np.zeros((5, 2)), 2, width=10, height=10)
