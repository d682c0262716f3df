"""Polygon checks, shoelace area, the shared rasteriser and the mask <-> polygons round trip (ml.geometry)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.geometry import mask_to_polygons, polygon_area, polygon_problems, polygons_to_mask, rasterise

SQUARE = [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]]
TRIANGLE = [[0.0, 0.0], [40.0, 0.0], [0.0, 30.0]]
BOW_TIE = [[10.0, 10.0], [30.0, 30.0], [30.0, 10.0], [10.0, 30.0]]


def problems(vertices, width: int = 64, height: int = 48) -> list[str]:
    return polygon_problems(vertices, width=width, height=height)


def circle(n: int, cx: float = 100.0, cy: float = 100.0, r: float = 50.0) -> list[list[float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)].tolist()


# --- valid shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vertices", [SQUARE, TRIANGLE, SQUARE[::-1], [[0, 0], [64, 0], [64, 48], [0, 48]]])
def test_simple_polygons_are_valid(vertices) -> None:
    assert problems(vertices) == []


def test_numpy_input_and_integer_coordinates_are_accepted() -> None:
    assert problems(np.array(SQUARE)) == []
    assert problems([[10, 10], [30, 10], [20, 25]]) == []


def test_concave_polygon_is_valid() -> None:
    arrow = [[0, 0], [40, 0], [40, 40], [20, 10], [0, 40]]
    assert problems(arrow) == []
    assert polygon_area(arrow) == pytest.approx(1600 - 0.5 * 40 * 30)


def test_duplicate_consecutive_vertices_are_allowed() -> None:
    """Double clicks in a drawing tool repeat a vertex; so may an explicitly closed ring."""
    doubled = [SQUARE[0], SQUARE[0], SQUARE[1], SQUARE[2], SQUARE[2], SQUARE[3], SQUARE[0]]
    assert problems(doubled) == []
    assert polygon_area(doubled) == pytest.approx(400.0)


def test_long_rings_are_checked_quickly_and_correctly() -> None:
    ring = circle(400)
    assert polygon_problems(ring, width=200, height=200) == []
    ring[10], ring[200] = ring[200], ring[10]  # two far-apart vertices swapped: edges now cross
    found = polygon_problems(ring, width=200, height=200)
    assert len(found) == 1 and "self-intersecting" in found[0]


# --- invalid shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("vertices", [[], [[1, 1]], [[1, 1], [5, 5]]])
def test_fewer_than_three_vertices(vertices) -> None:
    assert problems(vertices) == [f"a polygon needs at least 3 vertices, got {len(vertices)}"]


def test_three_vertices_but_only_two_distinct() -> None:
    assert problems([[1, 1], [5, 5], [5, 5]]) == ["a polygon needs at least 3 distinct vertices, got 2"]


def test_bow_tie_is_self_intersecting() -> None:
    found = problems(BOW_TIE)
    assert found == ["the polygon is self-intersecting: edge 0–1 crosses or touches edge 2–3"]


def test_touching_a_non_adjacent_edge_is_self_intersecting() -> None:
    # Vertex 3 lies on edge 0–1: the ring pinches into two lobes.
    found = problems([[0, 0], [40, 0], [40, 20], [20, 0], [0, 20]], width=64)
    assert len(found) == 1 and "self-intersecting" in found[0]


def test_indices_refer_to_the_input_even_with_duplicates_dropped() -> None:
    found = problems([BOW_TIE[0], BOW_TIE[0], *BOW_TIE[1:]])
    assert found == ["the polygon is self-intersecting: edge 1–2 crosses or touches edge 3–4"]


@pytest.mark.parametrize("vertices", [
    [[0, 0], [10, 10], [20, 20]],
    [[0, 0], [10, 10], [20, 20], [5, 5]],  # collinear and folding back
    [[3, 7], [3, 20], [3, 9]],
])
def test_collinear_vertices_have_zero_area(vertices) -> None:
    assert problems(vertices) == ["the polygon has zero area (all its vertices lie on one line)"]


def test_vertices_outside_the_image_are_named() -> None:
    found = problems([[-1, 5], [70, 5], [30, 47], [10, 49]], width=64, height=48)
    assert found == ["vertices 0, 1, 3: outside the 64×48 image (allowed: 0 ≤ x ≤ 64, 0 ≤ y ≤ 48)"]


def test_vertices_on_the_image_border_are_inside() -> None:
    assert problems([[0, 0], [64, 0], [64, 48]]) == []


def test_long_lists_of_offenders_are_abbreviated() -> None:
    found = problems([[100 + i, 100 + (i % 2) * i] for i in range(10)])
    assert found[0].startswith("vertices 0, 1, 2 and 7 more: outside the 64×48 image")


@pytest.mark.parametrize(("vertices", "message"), [
    ([[0, 0], ["a", 1], [5, 5]], "vertex 1: non-numeric coordinate"),
    ([[0, 0], [True, 1], [5, 5]], "vertex 1: non-numeric coordinate"),
    ([[0, 0], [None, 1], [5, 5]], "vertex 1: non-numeric coordinate"),
    ([[0, 0], [math.nan, 1], [5, math.inf]], "vertices 1, 2: non-finite coordinate (NaN or infinity)"),
    ([[0, 0], [1, 2, 3], [5, 5]], "vertex 1: not an [x, y] pair"),
    ([[0, 0], 7, [5, 5]], "vertex 1: not an [x, y] pair"),
])
def test_malformed_vertices(vertices, message) -> None:
    assert problems(vertices) == [message]


@pytest.mark.parametrize("vertices", ["0,0 1,1 2,0", None, 5, {"x": 1}])
def test_not_a_list(vertices) -> None:
    assert problems(vertices) == ["vertices must be a list of [x, y] pairs"]


def test_several_problems_are_reported_together() -> None:
    found = problems([[10, 10], [100, 100], [100, 10], [10, 100]])  # bow-tie reaching outside
    assert len(found) == 2
    assert "outside" in found[0] and "self-intersecting" in found[1]


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, -1), (1.5, 10), (True, 4)])
def test_bad_image_size_is_a_programming_error(width, height) -> None:
    with pytest.raises(ValueError, match="positive integers"):
        polygon_problems(SQUARE, width=width, height=height)


# --- area ------------------------------------------------------------------------------------------------


def test_area_of_known_shapes() -> None:
    assert polygon_area(SQUARE) == pytest.approx(400.0)
    assert polygon_area(SQUARE[::-1]) == pytest.approx(400.0)
    assert polygon_area(TRIANGLE) == pytest.approx(600.0)
    assert polygon_area([[1, 1], [2, 2]]) == 0.0
    assert polygon_area([]) == 0.0


def test_area_is_precise_far_from_the_origin() -> None:
    far = [[x + 1e7, y + 1e7] for x, y in SQUARE]
    assert polygon_area(far) == pytest.approx(400.0, rel=1e-12)


def test_area_rejects_malformed_input() -> None:
    for bad in ([[1, 2, 3]], [[1, 2, 3]] * 3, [[0, 0], ["a", 1], [2, 2]], np.zeros((4, 3))):
        with pytest.raises(ValueError):
            polygon_area(bad)


coordinate = st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False)
vertex_lists = st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=40)


@settings(max_examples=150, deadline=None)
@given(vertices=vertex_lists, shift=st.integers(min_value=0, max_value=39))
def test_area_is_invariant_under_rotation_and_reversal_of_the_vertex_order(vertices, shift) -> None:
    area = polygon_area(vertices)
    k = shift % len(vertices)
    rotated = vertices[k:] + vertices[:k]
    assert polygon_area(rotated) == pytest.approx(area, rel=1e-9, abs=1e-6)
    assert polygon_area(rotated[::-1]) == pytest.approx(area, rel=1e-9, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(vertices=st.lists(st.tuples(coordinate, coordinate), min_size=0, max_size=80))
def test_area_of_lists_and_arrays_agree(vertices) -> None:
    """Short lists take a pure-Python path, arrays and long lists numpy's: same shoelace either way."""
    as_lists = [list(v) for v in vertices]
    expected = polygon_area(np.array(as_lists, dtype=np.float64).reshape(-1, 2))
    assert polygon_area(as_lists) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@st.composite
def star_polygons(draw) -> tuple[list[list[float]], float]:
    """Simple polygons: vertices in angular order around a centre; returns them and their exact area."""
    n = draw(st.integers(min_value=3, max_value=30))
    spacing = 2 * math.pi / n
    jitter = draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(1.0, 40.0), min_size=n, max_size=n))
    angles = [(i + j) * spacing for i, j in enumerate(jitter)]
    vertices = [[50 + r * math.cos(a), 50 + r * math.sin(a)] for r, a in zip(radii, angles, strict=True)]
    exact = sum(0.5 * radii[i] * radii[(i + 1) % n] * math.sin((angles[(i + 1) % n] - angles[i]) % (2 * math.pi))
                for i in range(n))
    return vertices, exact


@settings(max_examples=150, deadline=None)
@given(star=star_polygons(), shift=st.integers(min_value=0, max_value=29))
def test_star_polygons_are_valid_and_their_area_is_the_sum_of_their_triangles(star, shift) -> None:
    vertices, exact = star
    k = shift % len(vertices)
    rotated = vertices[k:] + vertices[:k]
    assert polygon_problems(rotated, width=100, height=100) == []
    assert polygon_area(rotated) == pytest.approx(exact, rel=1e-9)


# --- rasterise -------------------------------------------------------------------------------------------


def test_rasterise_fills_pixel_centres_inside_or_on_the_boundary() -> None:
    mask = rasterise({2: [[[1, 1], [4, 1], [4, 3], [1, 3]]]}, 6, 7)
    expected = np.zeros((6, 7), np.uint8)
    expected[1:4, 1:5] = 2
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.uint8


def test_rasterise_higher_class_wins_where_polygons_overlap() -> None:
    low = [[0, 0], [10, 0], [10, 10], [0, 10]]
    high = [[5, 5], [15, 5], [15, 15], [5, 15]]
    mask = rasterise({4: [high], 1: [low]}, 20, 20)  # mapping order must not matter
    assert mask[2, 2] == 1 and mask[7, 7] == 4 and mask[12, 12] == 4 and mask[18, 18] == 0


def test_rasterise_pixel_count_tracks_the_area() -> None:
    ring = circle(200, cx=100, cy=100, r=60)
    mask = rasterise({1: [ring]}, 200, 200)
    perimeter = 2 * math.pi * 60
    assert abs(int(mask.sum()) - polygon_area(ring)) < perimeter


def test_rasterise_several_polygons_of_one_class_and_sub_pixel_vertices() -> None:
    mask = rasterise({3: [TRIANGLE, [[50.25, 40.5], [60.75, 40.5], [55.5, 47.9]]]}, 48, 64)
    assert mask[5, 5] == 3 and mask[44, 55] == 3 and mask[20, 45] == 0


@pytest.mark.parametrize("polygons", [{256: [SQUARE]}, {-1: [SQUARE]}, {1: [[[0, 0], [1, 1]]]},
                                      {1: [[[0, 0], [math.nan, 1], [2, 2]]]}])
def test_rasterise_rejects_bad_input(polygons) -> None:
    with pytest.raises(ValueError):
        rasterise(polygons, 48, 64)


# --- mask <-> polygons ----------------------------------------------------------------------------------


def test_polygons_exact_without_simplification() -> None:
    mask = np.zeros((40, 50), dtype=np.uint8)
    cv2.circle(mask, (20, 20), 9, 2, -1)
    mask[5:12, 30:45] = 3
    polys = {c: mask_to_polygons(mask, c, epsilon=0.0) for c in (2, 3)}
    assert np.array_equal(polygons_to_mask(polys, mask.shape), mask)
    assert mask_to_polygons(mask, 4) == []


def test_polygon_argument_errors() -> None:
    with pytest.raises(ValueError, match="2-D"):
        mask_to_polygons(np.zeros((2, 3, 4), np.uint8), 1)
    with pytest.raises(ValueError, match="N >= 3"):
        polygons_to_mask({1: [np.zeros((2, 2), np.float32)]}, (10, 10))
    with pytest.raises(ValueError, match="class ids"):
        polygons_to_mask({0: [np.zeros((3, 2), np.float32)]}, (10, 10))


def test_polygons_to_mask_is_rasterise_for_marker_classes() -> None:
    """One rasteriser: the phantom's round trip and the platform's label masks draw the same pixels."""
    polygons = {3: [TRIANGLE], 1: [SQUARE, [[50.25, 40.5], [60.75, 40.5], [55.5, 47.9]]]}
    np.testing.assert_array_equal(polygons_to_mask(polygons, (48, 64)), rasterise(polygons, 48, 64))
    assert not rasterise({0: [SQUARE]}, 48, 64).any()  # imported background contours draw nothing


def test_huge_coordinates_are_reported_not_raised():
    """A vertex of 1e308 once raised OverflowError (a 500 in the API): it is outside, said so, nothing more."""
    from ml.geometry import polygon_problems

    problems = polygon_problems([[0, 0], [1e308, 0], [0, 1e308]], width=100, height=100)
    assert len(problems) == 1 and "outside the 100×100 image" in problems[0]
