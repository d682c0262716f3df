"""Consensus rules and their tie handling, the "at least a agree" filter, bias and confusion."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ml.agreement import (
    agreement_report,
    at_least_agree,
    consensus,
    leave_one_out_reference,
    rater_bias,
    rater_confusion,
)

nan = np.nan


def random_ratings(seed: int, n: int = 60, k: int = 5, missing: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 4, size=(n, k)).astype(float)
    r[rng.random(r.shape) < missing] = np.nan
    return r


# ------------------------------------------------------------------------------- explicit ties

TIES = np.array(
    [
        [0, 0, 1, 1, nan],  # majority tie 0/1; median of (0,0,1,1): middles 0 and 1
        [2, 2, 1, nan, nan],  # clear majority 2; median 2
        [nan, nan, nan, nan, nan],  # unrated
        [3, nan, nan, nan, nan],  # single rating
        [0, 1, 2, 3, nan],  # four-way tie; median middles 1 and 2
        [1, 1, 2, 3, nan],  # majority 1; median middles 1 and 2
    ]
)


@pytest.mark.parametrize(
    ("tie", "expected"),
    [("lowest", [0, 2, nan, 3, 0, 1]), ("highest", [1, 2, nan, 3, 3, 1]), ("nan", [nan, 2, nan, 3, nan, 1])],
)
def test_majority_ties(tie: str, expected: list[float]) -> None:
    np.testing.assert_array_equal(consensus(TIES, "majority", tie=tie), expected)


@pytest.mark.parametrize(
    ("tie", "expected"),
    [
        ("lowest", [0, 2, nan, 3, 1, 1]),
        ("highest", [1, 2, nan, 3, 2, 2]),
        ("nan", [nan, 2, nan, 3, nan, nan]),
    ],
)
def test_median_ties(tie: str, expected: list[float]) -> None:
    np.testing.assert_array_equal(consensus(TIES, "median", tie=tie), expected)


def test_most_expert() -> None:
    r = np.array(
        [
            [0, 2, 2, 1],  # two level-3 raters agree on 2
            [0, 1, 2, 1],  # level-3 raters disagree -> tie rule
            [0, nan, nan, 1],  # no level-3 rater: the level-2 rater (col 3) decides
            [0, nan, nan, nan],  # only the novice
            [nan, nan, nan, nan],
        ]
    )
    levels = [1, 3, 3, 2]
    np.testing.assert_array_equal(consensus(r, "most_expert", levels=levels), [2, 1, 1, 0, nan])
    np.testing.assert_array_equal(
        consensus(r, "most_expert", levels=levels, tie="highest"), [2, 2, 1, 0, nan]
    )
    np.testing.assert_array_equal(consensus(r, "most_expert", levels=levels, tie="nan"), [2, nan, 1, 0, nan])


def test_consensus_bad_arguments() -> None:
    r = random_ratings(0, k=3)
    with pytest.raises(ValueError, match="needs levels"):
        consensus(r, "most_expert")
    with pytest.raises(ValueError, match="one per rater"):
        consensus(r, "most_expert", levels=[1, 2])
    with pytest.raises(ValueError, match="one per rater"):
        consensus(r, "most_expert", levels=[1, 2, np.nan])
    with pytest.raises(ValueError, match="only used"):
        consensus(r, "majority", levels=[1, 2, 3])
    with pytest.raises(ValueError, match="rule"):
        consensus(r, "mean")
    with pytest.raises(ValueError, match="tie"):
        consensus(r, tie="random")
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        consensus([[4, 0]])


def test_consensus_empty_and_single_rater() -> None:
    for rule in ("majority", "median"):
        assert consensus(np.empty((0, 3)), rule).shape == (0,)
        assert np.isnan(consensus(np.empty((2, 0)), rule)).all()
        np.testing.assert_array_equal(consensus([[2.0], [nan], [0.0]], rule), [2, nan, 0])


# ------------------------------------------------------------------------------- against loops


@pytest.mark.parametrize("seed", range(3))
def test_majority_and_median_match_loops(seed: int) -> None:
    r = random_ratings(seed, n=120)
    maj = consensus(r, "majority", tie="lowest")
    med_lo, med_hi = consensus(r, "median", tie="lowest"), consensus(r, "median", tie="highest")
    for row, m, lo, hi in zip(r, maj, med_lo, med_hi, strict=True):
        vals = row[~np.isnan(row)]
        if vals.size == 0:
            assert np.isnan(m) and np.isnan(lo)
            continue
        counts = Counter(vals.tolist())
        top = max(counts.values())
        assert m == min(v for v, c in counts.items() if c == top)
        s = np.sort(vals)
        assert lo == s[(vals.size - 1) // 2] and hi == s[vals.size // 2]
        assert (lo + hi) / 2 == np.median(vals)


@settings(max_examples=40, deadline=None)
@given(
    r=hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 20), st.integers(1, 6)),
        elements=st.sampled_from([np.nan, 0.0, 1.0, 2.0, 3.0]),
    ),
    a=st.integers(1, 6),
)
def test_at_least_agree_matches_loop(r: np.ndarray, a: int) -> None:
    if a > r.shape[1]:
        with pytest.raises(ValueError, match="must lie in"):
            at_least_agree(r, a)
        return
    expected = [max(Counter(row[~np.isnan(row)].tolist()).values(), default=0) >= a for row in r]
    np.testing.assert_array_equal(at_least_agree(r, a), np.asarray(expected, dtype=bool).reshape(-1))


def test_at_least_agree_bad_a() -> None:
    with pytest.raises(ValueError, match="int"):
        at_least_agree(random_ratings(1), 2.5)
    with pytest.raises(ValueError, match="must lie in"):
        at_least_agree(random_ratings(1), 0)


def test_bias_and_confusion_match_loops() -> None:
    r = random_ratings(3, n=80)
    cons = consensus(r, "majority", tie="nan")
    bias, conf = rater_bias(r, cons), rater_confusion(r, cons)
    assert conf.shape == (5, 4, 4) and conf.dtype == np.int64
    for a in range(5):
        ok = ~np.isnan(r[:, a]) & ~np.isnan(cons)
        assert bias[a] == pytest.approx(np.mean(r[ok, a] - cons[ok]))
        expected = np.zeros((4, 4), dtype=int)
        for c_i, s_i in zip(cons[ok].astype(int), r[ok, a].astype(int), strict=True):
            expected[c_i, s_i] += 1
        np.testing.assert_array_equal(conf[a], expected)
    # per-rater reference (the leave-one-out mean of the others)
    ref = leave_one_out_reference(r)
    bias_o = rater_bias(r, ref)
    ok = ~np.isnan(r[:, 2]) & ~np.isnan(ref[:, 2])
    assert bias_o[2] == pytest.approx(np.mean(r[ok, 2] - ref[ok, 2]))


def test_bias_of_a_systematic_over_scorer() -> None:
    truth = np.tile([0.0, 1.0, 2.0], 10)
    r = np.stack([truth, truth, truth, np.minimum(truth + 1, 3)], axis=1)
    bias = rater_bias(r, consensus(r, "median"))
    np.testing.assert_allclose(bias, [0, 0, 0, 1])
    rep = agreement_report(r, rater_names=list("abcd"))
    assert rep["raters"][3]["bias_vs_consensus"]["value"] == pytest.approx(1.0)
    assert rep["raters"][0]["bias_vs_others"]["value"] == pytest.approx(0.0)


def test_bias_undefined_and_bad_reference() -> None:
    r = np.array([[nan, 1.0], [nan, 2.0]])
    assert np.isnan(rater_bias(r, [1, 2])[0])
    np.testing.assert_array_equal(rater_confusion(r, [1, 2])[0], np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        rater_bias(r, [1, 2, 3])
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        rater_confusion(r, [1, 5])
    with pytest.raises(ValueError, match="integer"):
        rater_bias(r, [1.5, 2])


def test_report_counts_consensus_ties() -> None:
    rep = agreement_report(TIES)
    assert rep["consensus"]["n_ties"] == 2  # rows 0 and 4
    assert rep["consensus"]["n_unrated"] == 1
    assert rep["consensus"]["n_defined"] == 3
    assert sum(rep["consensus"]["category_counts"]) == 3
