"""ml.active.rank_scaled: a raw signal (a frame's mean MC-dropout std) put on [0, 1] by its rank, NaN kept;
checked against scipy's average ranks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import rankdata

from ml.active import combine, rank_scaled


def test_ranks_are_scaled_ties_share_and_nan_stays_unknown():
    assert rank_scaled([0.02, np.nan, 0.01, 0.3]).tolist() == pytest.approx([0.5, np.nan, 0.0, 1.0], nan_ok=True)
    assert rank_scaled([0.1, 0.2, 0.1]).tolist() == pytest.approx([0.25, 1.0, 0.25])
    assert rank_scaled([0.4, 0.4, 0.4]).tolist() == [0.5, 0.5, 0.5]  # nothing to tell them apart
    assert rank_scaled([np.nan, 0.7]).tolist() == pytest.approx([np.nan, 0.5], nan_ok=True)  # a lone value
    assert np.isnan(rank_scaled([np.nan, np.nan])).all() and rank_scaled([]).shape == (0,)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        rank_scaled(np.ones((2, 2)))


def test_unknown_values_leave_combine_to_the_other_signals():
    mc = rank_scaled([np.nan, 0.01, 0.2])
    assert combine({"entropy": [0.5, 0.5, 0.5], "mc_variance": mc}).tolist() == pytest.approx([0.5, 0.25, 0.75])


@given(st.lists(st.one_of(st.floats(0, 0.5), st.just(float("nan"))), max_size=30))
def test_matches_scipy_average_ranks(values: list[float]) -> None:
    v = np.array(values, dtype=np.float64)
    got = rank_scaled(v)
    known = ~np.isnan(v)
    assert np.array_equal(np.isnan(got), ~known)
    if known.sum() >= 2:
        expected = (rankdata(v[known], method="average") - 1) / (known.sum() - 1)
        assert got[known] == pytest.approx(expected)
    assert ((got[known] >= 0) & (got[known] <= 1)).all()
