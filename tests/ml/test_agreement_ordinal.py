"""Ordinal agreement statistics and the agreement report, cross-checked against scikit-learn,
statsmodels and the ``krippendorff`` package (test-only dependencies) and against direct loops."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import cohen_kappa_score

from ml.agreement import (
    CSV_FIELDS,
    agreement_report,
    as_ratings,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    leave_one_out_agreement,
    leave_one_out_reference,
    pairwise_cohen_kappa,
    pairwise_percent_agreement,
    percent_agreement,
    report_to_csv_rows,
)

krippendorff = pytest.importorskip("krippendorff")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = (None, "linear", "quadratic")
LEVELS = ("ordinal", "interval", "nominal")


def random_ratings(
    seed: int,
    n: int = 80,
    k: int = 4,
    c: int = 4,
    missing: float = 0.2,
    correlated: bool = True,
    used: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Random ratings; ``correlated`` ones come from a hidden truth plus noise."""
    rng = np.random.default_rng(seed)
    if correlated:
        truth = rng.integers(0, c, size=n)
        r = np.clip(truth[:, None] + rng.integers(-1, 2, size=(n, k)) * (rng.random((n, k)) < 0.4), 0, c - 1)
    else:
        r = rng.integers(0, c, size=(n, k))
    r = r.astype(float)
    if used is not None:  # squeeze into a subset of categories (others never used)
        r = np.asarray(used, dtype=float)[r.astype(int) % len(used)]
    r[rng.random(r.shape) < missing] = np.nan
    return r


def sk_kappa(a: np.ndarray, b: np.ndarray, weights, c: int = 4) -> float:
    ok = ~np.isnan(a) & ~np.isnan(b)
    return cohen_kappa_score(a[ok].astype(int), b[ok].astype(int), weights=weights, labels=list(range(c)))


def sm_fleiss(r: np.ndarray, c: int = 4, method: str = "fleiss") -> float:
    table, _ = inter_rater.aggregate_raters(r.astype(int), n_cat=c)
    return inter_rater.fleiss_kappa(table, method=method)


def kd_alpha(r: np.ndarray, level: str) -> float:
    return krippendorff.alpha(reliability_data=r.T, level_of_measurement=level)


# ------------------------------------------------------------------------------- cross-checks


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_matches_sklearn(seed: int, weights) -> None:
    r = random_ratings(seed, correlated=seed % 2 == 0, used=(0, 1, 3) if seed == 4 else None)
    for a, b in [(0, 1), (2, 3), (1, 3)]:
        assert cohen_kappa(r[:, a], r[:, b], weights) == pytest.approx(
            sk_kappa(r[:, a], r[:, b], weights), abs=1e-12
        )


@pytest.mark.parametrize("weights", WEIGHTS)
def test_pairwise_cohen_kappa_matches_pairs(weights) -> None:
    r = random_ratings(7, k=5)
    mat = pairwise_cohen_kappa(r, weights)
    assert mat.shape == (5, 5)
    np.testing.assert_array_equal(np.diag(mat), 1.0)
    np.testing.assert_array_equal(mat, mat.T)
    for a in range(5):
        for b in range(a + 1, 5):
            assert mat[a, b] == pytest.approx(sk_kappa(r[:, a], r[:, b], weights), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_fleiss_matches_statsmodels_on_complete_data(seed: int) -> None:
    r = random_ratings(
        seed,
        n=60,
        k=3 + seed % 3,
        missing=0.0,
        correlated=seed % 2 == 0,
        used=(1, 2, 3) if seed == 3 else None,
    )
    assert fleiss_kappa(r) == pytest.approx(sm_fleiss(r), abs=1e-12)
    assert fleiss_kappa(r, method="randolph") == pytest.approx(sm_fleiss(r, method="randolph"), abs=1e-12)
    assert fleiss_kappa(r, missing="available") == pytest.approx(fleiss_kappa(r), abs=1e-12)


def test_fleiss_complete_uses_items_rated_by_all() -> None:
    r = random_ratings(11, n=120, k=4, missing=0.1)
    complete = r[~np.isnan(r).any(axis=1)]
    assert 0 < complete.shape[0] < r.shape[0]
    assert fleiss_kappa(r) == pytest.approx(sm_fleiss(complete), abs=1e-12)


def test_fleiss_available_matches_direct_formula() -> None:
    r = random_ratings(12, n=50, k=5, missing=0.3)
    p_items, totals = [], np.zeros(4)
    for row in r:
        vals = row[~np.isnan(row)].astype(int)
        if vals.size < 2:
            continue
        n_c = np.bincount(vals, minlength=4)
        p_items.append((n_c * (n_c - 1)).sum() / (vals.size * (vals.size - 1)))
        totals += n_c
    p_e = ((totals / totals.sum()) ** 2).sum()
    expected = (np.mean(p_items) - p_e) / (1 - p_e)
    assert fleiss_kappa(r, missing="available") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package(seed: int, level: str) -> None:
    r = random_ratings(
        seed,
        n=40 + 10 * seed,
        k=2 + seed % 4,
        missing=0.05 + 0.05 * seed,
        correlated=seed % 3 != 0,
        used=(0, 2, 3) if seed == 5 else None,
    )
    assert krippendorff_alpha(r, level) == pytest.approx(kd_alpha(r, level), abs=1e-9)


def test_alpha_handles_single_rated_items_like_the_package() -> None:
    r = random_ratings(3, n=30, k=3, missing=0.6)
    m = (~np.isnan(r)).sum(axis=1)
    assert (m == 1).any() and (m == 0).any()
    for level in LEVELS:
        assert krippendorff_alpha(r, level) == pytest.approx(kd_alpha(r, level), abs=1e-9)


def test_alpha_textbook_example() -> None:
    # Krippendorff's example as in the package's doctest (values 1..4, shifted to 0..3).
    data = (
        np.array(
            [
                [np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
                [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
                [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4],
            ]
        ).T
        - 1
    )
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.810845, abs=1e-6)


def test_percent_agreement_matches_loop() -> None:
    r = random_ratings(5, n=100, k=4, missing=0.3)
    agree, n = 0, 0
    for row in r:
        vals = row[~np.isnan(row)]
        if vals.size >= 2:
            n += 1
            agree += int(np.all(vals == vals[0]))
    assert percent_agreement(r) == pytest.approx(agree / n)
    mat = pairwise_percent_agreement(r)
    for a in range(4):
        for b in range(4):
            ok = ~np.isnan(r[:, a]) & ~np.isnan(r[:, b])
            expected = 1.0 if a == b else np.mean(r[ok, a] == r[ok, b])
            assert mat[a, b] == pytest.approx(expected)


def test_leave_one_out_matches_loop() -> None:
    r = random_ratings(9, n=70, k=5, missing=0.3)
    per = []
    for a in range(5):
        hits, n = 0, 0
        for row in r:
            others = np.delete(row, a)
            others = others[~np.isnan(others)]
            if np.isnan(row[a]) or others.size == 0:
                continue
            ref = np.floor(others.mean() + 0.5)
            hits += int(row[a] == ref)
            n += 1
        per.append(hits / n)
    res = leave_one_out_agreement(r)
    np.testing.assert_allclose(res.per_rater, per)
    assert res.mean == pytest.approx(np.mean(per))
    assert res.n_items.shape == (5,)


def test_leave_one_out_rounds_half_up() -> None:
    r = np.array([[1, 2, 1], [2, 3, 3], [np.nan, 1, np.nan]], dtype=float)
    ref = leave_one_out_reference(r)
    # item 0, rater 0: others (2, 1) -> 1.5 -> 2; item 1, rater 1: others (2, 3) -> 2.5 -> 3 (not 2 as
    # round-half-even would give)
    assert ref[0, 0] == 2 and ref[1, 1] == 3 and ref[0, 1] == 1
    assert np.isnan(ref[2, 1])  # nobody else rated item 2
    res = leave_one_out_agreement(r)
    np.testing.assert_allclose(res.per_rater, [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(res.n_items, [2, 2, 2])


# ------------------------------------------------------------------------------- edge cases


def test_single_rater() -> None:
    r = np.array([[0.0], [1.0], [2.0]])
    assert percent_agreement(r) is None
    assert fleiss_kappa(r) is None and fleiss_kappa(r, missing="available") is None
    assert all(krippendorff_alpha(r, level) is None for level in LEVELS)
    np.testing.assert_array_equal(pairwise_cohen_kappa(r), [[1.0]])
    res = leave_one_out_agreement(r)
    assert np.isnan(res.per_rater).all() and res.mean is None


def test_all_ratings_identical_is_undefined_not_nan() -> None:
    r = np.full((10, 3), 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing here may warn
        assert cohen_kappa(r[:, 0], r[:, 1]) is None
        assert all(cohen_kappa(r[:, 0], r[:, 1], w) is None for w in WEIGHTS)
        assert fleiss_kappa(r) is None
        assert all(krippendorff_alpha(r, level) is None for level in LEVELS)
        assert percent_agreement(r) == 1.0
        assert np.isnan(pairwise_cohen_kappa(r)[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(sk_kappa(r[:, 0], r[:, 1], None))  # scikit-learn's NaN is our None


def test_perfect_agreement_over_two_categories_is_one() -> None:
    r = np.array([[0, 0, 0], [3, 3, 3], [1, 1, np.nan]], dtype=float)
    assert cohen_kappa(r[:, 0], r[:, 1]) == 1.0
    assert fleiss_kappa(r) == pytest.approx(1.0)
    assert all(krippendorff_alpha(r, level) == pytest.approx(1.0) for level in LEVELS)


def test_raters_without_overlap() -> None:
    r = np.array([[0, np.nan, 1], [1, np.nan, 1], [np.nan, 2, 2], [np.nan, 3, 3]], dtype=float)
    assert cohen_kappa(r[:, 0], r[:, 1]) is None
    mat = pairwise_cohen_kappa(r)
    assert np.isnan(mat[0, 1]) and np.isnan(mat[1, 0])
    assert np.isnan(pairwise_percent_agreement(r)[0, 1])
    assert fleiss_kappa(r) is None  # no item rated by all three
    assert fleiss_kappa(r, missing="available") is not None


def test_category_never_used_matches_references() -> None:
    r = random_ratings(21, n=50, k=3, missing=0.0, used=(0, 1, 2))
    assert not (r == 3).any()
    for w in WEIGHTS:
        assert cohen_kappa(r[:, 0], r[:, 2], w) == pytest.approx(sk_kappa(r[:, 0], r[:, 2], w), abs=1e-12)
    assert fleiss_kappa(r) == pytest.approx(sm_fleiss(r), abs=1e-12)
    for level in LEVELS:
        assert krippendorff_alpha(r, level) == pytest.approx(kd_alpha(r, level), abs=1e-9)


@pytest.mark.parametrize("shape", [(0, 3), (0, 0), (4, 0)])
def test_empty_input(shape: tuple[int, int]) -> None:
    r = np.empty(shape)
    assert percent_agreement(r) is None
    assert fleiss_kappa(r) is None
    assert krippendorff_alpha(r) is None
    assert pairwise_cohen_kappa(r).shape == (shape[1], shape[1])
    assert leave_one_out_agreement(r).mean is None
    assert cohen_kappa([], []) is None
    json.dumps(agreement_report(r), allow_nan=False)


@pytest.mark.parametrize(
    ("ratings", "match"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((2, 2, 2)), "2-D"),
        ([[0, 4]], "outside 0..3"),
        ([[-1, 0]], "outside 0..3"),
        ([[0.5, 1]], "integer"),
        ([[np.inf, 1]], "inf"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_bad_ratings_raise(ratings, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        krippendorff_alpha(ratings)
    with pytest.raises(ValueError, match=match):
        agreement_report(ratings)


def test_bad_arguments_raise() -> None:
    r = random_ratings(0)
    with pytest.raises(ValueError, match="categories"):
        as_ratings(r, categories=1)
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        percent_agreement(r, categories=3)
    with pytest.raises(ValueError, match="weights"):
        pairwise_cohen_kappa(r, "cubic")
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(r, "ratio")
    with pytest.raises(ValueError, match="differ in length"):
        cohen_kappa([0, 1], [0])
    with pytest.raises(ValueError, match="1-D"):
        cohen_kappa([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="missing"):
        fleiss_kappa(r, missing="pairwise")
    with pytest.raises(ValueError, match="method"):
        fleiss_kappa(r, method="cohen")
    assert np.isnan(as_ratings([[None, 1]])[0, 0])  # None counts as missing


# ------------------------------------------------------------------------------- properties

ratings_st = hnp.arrays(
    np.float64,
    st.tuples(st.integers(0, 25), st.integers(1, 5)),
    elements=st.sampled_from([np.nan, 0.0, 1.0, 2.0, 3.0]),
)


def _same(x, y) -> bool:
    return (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)


@settings(max_examples=40, deadline=None)
@given(r=ratings_st, perm_seed=st.integers(0, 2**16))
def test_permuting_raters_or_items_changes_nothing(r: np.ndarray, perm_seed: int) -> None:
    rng = np.random.default_rng(perm_seed)
    by_rater = r[:, rng.permutation(r.shape[1])]
    by_item = r[rng.permutation(r.shape[0])]
    for other in (by_rater, by_item):
        assert _same(percent_agreement(r), percent_agreement(other))
        assert _same(fleiss_kappa(r), fleiss_kappa(other))
        assert _same(fleiss_kappa(r, missing="available"), fleiss_kappa(other, missing="available"))
        for level in LEVELS:
            assert _same(krippendorff_alpha(r, level), krippendorff_alpha(other, level))
    np.testing.assert_array_equal(
        pairwise_cohen_kappa(r, "quadratic"), pairwise_cohen_kappa(by_item, "quadratic")
    )


@settings(max_examples=40, deadline=None)
@given(r=ratings_st)
def test_pairwise_kappa_symmetric(r: np.ndarray) -> None:
    for w in WEIGHTS:
        mat = pairwise_cohen_kappa(r, w)
        np.testing.assert_array_equal(mat, mat.T)
        if r.shape[1] >= 2:
            assert _same(cohen_kappa(r[:, 0], r[:, 1], w), cohen_kappa(r[:, 1], r[:, 0], w))


@settings(max_examples=40, deadline=None)
@given(
    scores=hnp.arrays(np.float64, st.integers(2, 30), elements=st.sampled_from([0.0, 1.0, 2.0, 3.0])),
    k=st.integers(2, 5),
)
def test_perfect_agreement_gives_one(scores: np.ndarray, k: int) -> None:
    r = np.repeat(scores[:, None], k, axis=1)
    assert percent_agreement(r) == 1.0
    single = np.unique(scores).size == 1
    for value in (
        [cohen_kappa(r[:, 0], r[:, 1], w) for w in WEIGHTS]
        + [fleiss_kappa(r)]
        + [krippendorff_alpha(r, level) for level in LEVELS]
    ):
        assert value is None if single else value == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(r=ratings_st)
def test_alpha_matches_package_on_arbitrary_data(r: np.ndarray) -> None:
    m = (~np.isnan(r)).sum(axis=1)
    values = np.unique(r[~np.isnan(r)])
    for level in LEVELS:
        ours = krippendorff_alpha(r, level)
        if values.size < 2 or not (m >= 2).any():
            continue  # the package raises (or divides 0/0) where we return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            theirs = kd_alpha(r, level)
        assert (ours is None and np.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-9)


# ------------------------------------------------------------------------------- report


def test_report_is_strict_json_and_consistent() -> None:
    r = random_ratings(4, n=90, k=4, missing=0.1)
    rep = agreement_report(r, rater_names=["a", "b", "c", "d"])
    text = json.dumps(rep, allow_nan=False)
    assert json.loads(text) == rep
    assert rep["n_items"] == 90 and rep["n_raters"] == 4 and rep["rater_names"] == ["a", "b", "c", "d"]
    assert rep["percent_agreement"]["value"] == pytest.approx(percent_agreement(r))
    assert rep["fleiss_kappa"]["complete"]["value"] == pytest.approx(fleiss_kappa(r))
    assert rep["fleiss_kappa"]["available"]["value"] == pytest.approx(fleiss_kappa(r, missing="available"))
    for level in LEVELS:
        assert rep["krippendorff_alpha"][level]["value"] == pytest.approx(krippendorff_alpha(r, level))
    assert rep["leave_one_out_agreement"]["value"] == pytest.approx(leave_one_out_agreement(r).mean)
    assert len(rep["pairs"]) == 6
    quad = pairwise_cohen_kappa(r, "quadratic")
    for pair in rep["pairs"]:
        a, b = ("abcd".index(x) for x in pair["raters"])
        assert pair["cohen_kappa"]["quadratic"]["value"] == pytest.approx(quad[a, b])
    assert rep["mean_pairwise_cohen_kappa"]["quadratic"]["value"] == pytest.approx(
        quad[np.triu_indices(4, 1)].mean()
    )
    for rater in rep["raters"]:
        assert np.asarray(rater["confusion_vs_consensus"]).shape == (4, 4)
    assert rep["consensus"]["rule"] == "majority"


def test_report_undefined_values_are_null_with_reason() -> None:
    for r in (np.full((5, 3), 1.0), np.array([[0.0], [1.0]]), np.empty((0, 2))):
        rep = agreement_report(r)
        json.dumps(rep, allow_nan=False)
        for entry in [
            rep["percent_agreement"],
            rep["leave_one_out_agreement"],
            *rep["fleiss_kappa"].values(),
            *rep["krippendorff_alpha"].values(),
            *rep["mean_pairwise_cohen_kappa"].values(),
        ]:
            assert (entry["value"] is None) == (entry["reason"] is not None)
    rep = agreement_report(np.full((5, 3), 1.0))
    assert rep["krippendorff_alpha"]["ordinal"]["value"] is None
    assert "one category" in rep["krippendorff_alpha"]["ordinal"]["reason"]
    assert rep["unused_categories"] == [0, 2, 3]


def test_report_with_levels_uses_most_expert_and_csv_rows() -> None:
    r = random_ratings(8, n=40, k=3, missing=0.2)
    rep = agreement_report(r, levels=[1, 3, 2], rater_names=["x", "y", "z"])
    assert rep["consensus"]["rule"] == "most_expert"
    assert [x["level"] for x in rep["raters"]] == [1.0, 3.0, 2.0]
    rows = report_to_csv_rows(rep)
    assert rows and all(set(row) == set(CSV_FIELDS) for row in rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    assert "krippendorff_alpha" in buf.getvalue()
    with pytest.raises(ValueError, match="rater_names"):
        agreement_report(r, rater_names=["x"])
    with pytest.raises(ValueError, match="levels"):
        agreement_report(r, levels=[1, 2])
    with pytest.raises(ValueError, match="consensus_rule"):
        agreement_report(r, consensus_rule="mean")
    with pytest.raises(ValueError, match="tie"):
        agreement_report(r, tie="coin")
    median = agreement_report(r, consensus_rule="median", tie="lowest")
    assert median["consensus"]["rule"] == "median" and median["consensus"]["n_ties"] == 0


def test_agreement_never_imports_django() -> None:
    code = "import sys, ml.agreement\nassert not any(m.split('.')[0] == 'django' for m in sys.modules)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
