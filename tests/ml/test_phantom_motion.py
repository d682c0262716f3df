"""The phantom's optional hand-held probe motion (ml.phantom.probe_shifts): off by default, deterministic,
moves the chest wall too, and keeps the label contract."""

from __future__ import annotations

import numpy as np

from ml.phantom import generate_phantom_video, probe_shifts


def test_default_output_is_unchanged_by_the_option() -> None:
    kwargs = dict(seed=3, n_frames=6, height=96, width=96, geometry="convex")
    a = generate_phantom_video(**kwargs)  # type: ignore[arg-type]
    b = generate_phantom_video(**kwargs, probe_motion=False)  # type: ignore[arg-type]
    c = generate_phantom_video(**kwargs, probe_motion=True)  # type: ignore[arg-type]
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.frames, c.frames)
    assert np.array_equal(a.scores, c.scores) and np.array_equal(a.field, c.field)
    assert not c.frames[:, ~c.field].any()  # the fan stays fixed to the probe


def test_motion_is_deterministic_and_small() -> None:
    s = probe_shifts(5, 100, 100.0)
    np.testing.assert_array_equal(s, probe_shifts(5, 100, 100.0))
    assert s.shape == (100, 2)
    assert np.abs(s[:, 0]).max() <= 3.0 + 5.0 and np.abs(s[:, 1]).max() <= 4.0
    assert np.abs(np.diff(s, axis=0)).max() < 0.5  # smooth: under half a pixel per frame


def test_chest_wall_moves_with_the_probe_and_masks_follow() -> None:
    v = generate_phantom_video(seed=4, n_frames=30, geometry="linear", height=200, width=200,
                               score_path=[3] * 30, probe_motion=True)
    top = v.frames[:, :20].astype(np.int16)
    assert np.abs(np.diff(top, axis=0)).max() > 1  # it stays put without probe motion (test_phantom)
    assert (v.masks.reshape(30, -1).max(axis=1) == 4).all()
    rows = np.array([np.flatnonzero((m == 4).any(axis=1)).min() for m in v.masks])
    assert 0 < np.ptp(rows) <= 8  # the consolidation's top follows the axial shift
