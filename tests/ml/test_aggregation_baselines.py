"""Video scoring baselines (max of per-frame argmax, argmax of the mean) and pad_videos."""

from __future__ import annotations

import pytest
import torch

from ml.aggregation import AGGREGATORS, argmax_mean, max_argmax, pad_videos

# Video 0 (3 frames): per-frame argmax 0, 2, 1 -> max 2; mean (0.4, 0.2667, 0.3, 0.0333) -> argmax 0.
# Video 1 (2 frames, padded): per-frame argmax 1, 1 -> 1; mean (0.15, 0.45, 0.1, 0.3) -> 1.
V0 = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.2, 0.2, 0.6, 0.0], [0.3, 0.5, 0.2, 0.0]])
V1 = torch.tensor([[0.1, 0.5, 0.1, 0.3], [0.2, 0.4, 0.1, 0.3]])


def test_hand_computed():
    x, mask = pad_videos([V0, V1])
    assert max_argmax(x, mask).tolist() == [2, 1]
    assert argmax_mean(x, mask).tolist() == [0, 1]
    assert max_argmax(x, mask).dtype == torch.int64


def test_padding_is_ignored():
    x, mask = pad_videos([V0, V1])
    x[1, 2] = torch.tensor([0.0, 0.0, 0.0, 1.0])  # padding that would change both scores if counted
    assert max_argmax(x, mask).tolist() == [2, 1]
    assert argmax_mean(x, mask).tolist() == [0, 1]
    assert max_argmax(x).tolist() == [2, 3]  # without the mask the padded frame counts


def test_ties_single_frames_and_difference_between_rules():
    x = torch.tensor([[[0.5, 0.5, 0.0, 0.0]]])
    assert max_argmax(x).tolist() == [0] and argmax_mean(x).tolist() == [0]  # first of tied classes
    # One alarming frame: max_argmax reports it, the mean does not (mean 0.625, 0.125, 0, 0.25).
    x = torch.tensor(
        [[[0.75, 0.25, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0], [0.75, 0.0, 0.0, 0.25], [0.25, 0.0, 0.0, 0.75]]]
    )
    assert max_argmax(x).tolist() == [3]
    assert argmax_mean(x).tolist() == [0]


def test_matches_loop_reference_on_random_videos():
    g = torch.Generator().manual_seed(0)
    videos = [torch.rand(int(n), 4, generator=g) for n in torch.randint(1, 20, (16,), generator=g)]
    x, mask = pad_videos(videos)
    assert max_argmax(x, mask).tolist() == [int(v.argmax(1).max()) for v in videos]
    assert argmax_mean(x, mask).tolist() == [int(v.mean(0).argmax()) for v in videos]


def test_validation_and_registry():
    x, mask = pad_videos([V0, V1])
    for fn in (max_argmax, argmax_mean):
        with pytest.raises(ValueError):
            fn(x[0])
        with pytest.raises(ValueError):
            fn(x, mask[:, :2])
        with pytest.raises(ValueError):
            fn(x, torch.zeros_like(mask))  # videos without real frames
        assert fn(x[:0], mask[:0]).shape == (0,)
    assert AGGREGATORS["max_argmax"] is max_argmax and AGGREGATORS["argmax_mean"] is argmax_mean


def test_pad_videos():
    x, mask = pad_videos([V0, V1.double()])
    assert x.shape == (2, 3, 4) and x.dtype == V0.dtype
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    assert torch.equal(x[1, 2], torch.zeros(4))
    for bad in ([], [V0, V1[:, :3]], [V0, torch.zeros(0, 4)], [V0[0]]):
        with pytest.raises(ValueError):
            pad_videos(bad)
