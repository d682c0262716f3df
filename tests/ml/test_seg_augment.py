"""The joint augmentation keeps frames and masks aligned and uses the paper's parameters."""

from __future__ import annotations

import math

import pytest
import torch

from ml.data import SegAugment


def checkerboard(b: int = 6, h: int = 60, w: int = 80, block: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks of classes 0-4; the frame's grey level encodes the class (class k -> -1 + k / 2)."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pattern = ((yy // block) * 3 + (xx // block) * 7) % 5
    pattern[:block] = 0  # a band of background, so flips and shifts are visible
    masks = torch.stack([torch.roll(pattern, shifts=i * 3, dims=1) for i in range(b)]).to(torch.uint8)
    return (-1.0 + masks.float() / 2.0).unsqueeze(1), masks


def geometric_only(**kwargs) -> SegAugment:
    return SegAugment(p=1.0, multiply=0.0, blur_sigma=0.0, contrast=0.0, noise_std=0.0, **kwargs)


def test_defaults_are_the_papers():
    aug = SegAugment()
    assert aug.p == 0.33 and aug.hflip_p == 0.5
    assert (aug.translate, aug.scale, aug.multiply, aug.contrast) == (0.15, 0.45, 0.45, 0.45)
    assert math.isclose(aug.rotation, math.radians(15)) and math.isclose(aug.shear, math.radians(4.5))
    assert (aug.blur_sigma, aug.noise_std) == (0.75, 0.015)


@pytest.mark.parametrize("seed", range(4))
def test_geometric_transforms_move_frame_and_mask_together(seed):
    frames, masks = checkerboard()
    out, out_masks = geometric_only(generator=torch.Generator().manual_seed(seed))(frames, masks)
    assert out.shape == frames.shape and out_masks.shape == masks.shape and out_masks.dtype == torch.uint8
    assert not torch.equal(out_masks, masks)  # something moved
    assert set(out_masks.unique().tolist()) <= {0, 1, 2, 3, 4}
    # where the mask says class k, the (bilinearly resampled) frame shows k's grey level, away from block edges
    decoded = torch.round((out[:, 0] + 1.0) * 2.0).clamp(0, 4).to(torch.uint8)
    inner = torch.ones_like(out_masks, dtype=torch.bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            inner &= torch.roll(out_masks, (dy, dx), (1, 2)) == out_masks
    inner[:, [0, -1]] = False
    inner[:, :, [0, -1]] = False
    assert inner.float().mean() > 0.4
    agreement = (decoded == out_masks)[inner].float().mean()
    assert agreement > 0.99, float(agreement)


def test_a_single_square_keeps_its_centroid():
    frames = -torch.ones(8, 1, 64, 64)
    masks = torch.zeros(8, 64, 64, dtype=torch.uint8)
    frames[:, :, 20:36, 30:44] = 1.0
    masks[:, 20:36, 30:44] = 3
    out, out_masks = geometric_only(generator=torch.Generator().manual_seed(1))(frames, masks)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    for b in range(8):
        w_img = (out[b, 0] + 1.0) / 2.0
        w_mask = (out_masks[b] == 3).float()
        if w_mask.sum() < 10:
            continue  # translated out of view
        for grid in (yy, xx):
            img_c = float((w_img * grid).sum() / w_img.sum())
            mask_c = float((w_mask * grid).sum() / w_mask.sum())
            assert abs(img_c - mask_c) < 0.75


def test_flip_mirrors_both():
    frames, masks = checkerboard(b=2)
    aug = SegAugment(p=0.0, hflip_p=1.0)
    out, out_masks = aug(frames, masks)
    assert torch.equal(out_masks, masks.flip(-1))
    torch.testing.assert_close(out, frames.flip(-1), atol=1e-5, rtol=0)


def test_nothing_happens_with_zero_probabilities():
    frames, masks = checkerboard(b=2)
    out, out_masks = SegAugment(p=0.0, hflip_p=0.0)(frames, masks)
    assert torch.equal(out_masks, masks)
    torch.testing.assert_close(out, frames, atol=1e-5, rtol=0)


def test_intensity_transforms_leave_the_mask_alone():
    frames, masks = checkerboard()
    aug = SegAugment(p=1.0, hflip_p=0.0, translate=0.0, rotation_deg=0.0, scale=0.0, shear_deg=0.0,
                     generator=torch.Generator().manual_seed(3))
    out, out_masks = aug(frames, masks)
    assert torch.equal(out_masks, masks)
    assert not torch.allclose(out, frames)
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_each_transform_fires_about_a_third_of_the_time():
    aug = SegAugment(generator=torch.Generator().manual_seed(0))
    fired = torch.stack([aug._on(1, torch.device("cpu")) for _ in range(3000)])
    assert abs(float(fired.mean()) - 0.33) < 0.03


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"p": 1.5}, "p must be a probability"),
    ({"translate": 1.0}, "translate"),
    ({"rotation_deg": 90}, "rotation_deg"),
    ({"blur_sigma": 5.0}, "blur_sigma"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SegAugment(**kwargs)


def test_bad_shapes():
    frames, masks = checkerboard(b=2)
    with pytest.raises(ValueError, match="masks must be"):
        SegAugment()(frames, masks[:1])
    with pytest.raises(ValueError, match="frames must be"):
        SegAugment()(frames[:, 0], masks)
