"""The split decoder steps used for MC-dropout sampling equal the plain decoders (up to float rounding)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml.models import LatentDropoutSegmenter, create_model
from ml.models.segmentation import SegState
from ml.models.upsample_conv import SplitUpsampleConv, fold_batchnorm, upsampled_conv_weight
from tests.ml.tiny_models import TINY_SEGMENTERS

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}  # the split sums the same products in another order


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("scale", [1, 2, 5])
def test_transposed_kernel_is_upsample_then_conv(scale):
    z, weight = torch.randn(2, 6, 7, 9), torch.randn(4, 6, 3, 3)
    expected = F.conv2d(F.interpolate(z, scale_factor=scale, mode="nearest"), weight, padding=1)
    got = F.conv_transpose2d(z, upsampled_conv_weight(weight, scale), stride=scale, padding=1)
    torch.testing.assert_close(got, expected, **TOLERANCE)


def test_transposed_kernel_rejects_other_kernels():
    with pytest.raises(ValueError, match="3x3"):
        upsampled_conv_weight(torch.randn(4, 6, 5, 5), 2)


def test_batchnorm_folds_into_the_convolution():
    conv, norm = nn.Conv2d(3, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5)
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.5, 2)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-1, 1)
    norm.eval()
    x = torch.randn(2, 3, 8, 8)
    weight, bias = fold_batchnorm(conv, norm)
    torch.testing.assert_close(F.conv2d(x, weight, bias, padding=1), norm(conv(x)), **TOLERANCE)
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(conv, norm.train())


def test_split_conv_computes_the_skip_term_once_per_frame():
    """Three samples per frame share the frame's skip term."""
    weight, bias = torch.randn(4, 6 + 2, 3, 3), torch.randn(4)
    skip, z = torch.randn(2, 2, 8, 10), torch.randn(6, 6, 4, 5)
    split = SplitUpsampleConv(weight, bias, z_channels=6, scale=2, skip=skip)
    plain = F.conv2d(
        torch.cat([F.interpolate(z, scale_factor=2), skip.repeat_interleave(3, 0)], 1),
        weight,
        bias,
        padding=1,
    )
    torch.testing.assert_close(split(z), plain, **TOLERANCE)
    with pytest.raises(ValueError, match="input channels"):
        SplitUpsampleConv(weight, bias, z_channels=5, scale=2, skip=skip)
    with pytest.raises(ValueError, match="do not split"):
        split(torch.randn(5, 6, 4, 5))


def _with_running_statistics(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("name", ["unet_roy", "unet_plusplus", "deeplabv3_plus"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_latent_decoder_equals_decode(name, channels_last):
    model = _with_running_statistics(create_model(name, **TINY_SEGMENTERS[name]))
    assert isinstance(model, LatentDropoutSegmenter)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    x, _ = model.pad(torch.rand(2, 1, 40, 60) * 2 - 1)
    with torch.no_grad():
        state = model.encode(x)
        z = F.dropout(state.latent.repeat_interleave(3, 0), 0.5, training=True)
        expected = model.decode(
            SegState(z, [c.repeat_interleave(3, 0) for c in state.context]), stochastic=False
        )
        fast = model.latent_decoder(state)
        assert fast.__qualname__.startswith(type(model).__name__)  # the split path, not the generic one
        torch.testing.assert_close(fast(z), expected, **TOLERANCE)


def test_unet_plusplus_inference_encode_equals_the_training_path():
    """Without autograd, U-Net++ computes its nested nodes through the split blocks too: same result."""
    model = _with_running_statistics(create_model("unet_plusplus", **TINY_SEGMENTERS["unet_plusplus"]))
    assert isinstance(model, LatentDropoutSegmenter)
    x, _ = model.pad(torch.rand(2, 1, 40, 60) * 2 - 1)
    with torch.no_grad():
        split = model.encode(x)
    with torch.enable_grad():
        plain = model.encode(x)
    torch.testing.assert_close(split.latent, plain.latent)
    for ours, theirs in zip(split.context, plain.context, strict=True):
        torch.testing.assert_close(ours, theirs.detach(), **TOLERANCE)


def test_ensemble_predicts_under_bf16_autocast():
    """The GPU benchmark runs predict under bf16 autocast: the split decoders must accept mixed dtypes."""
    from ml.models import SegmentationEnsemble

    ens = SegmentationEnsemble([create_model(n, **TINY_SEGMENTERS[n]) for n in sorted(TINY_SEGMENTERS)])
    x = torch.rand(2, 1, 40, 60) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        result = ens.predict(x, mc_samples=4)
    reference = ens.predict(x, mc_samples=0)
    assert result.uncertainty is not None and result.uncertainty.shape == (2, 40, 60)
    assert torch.isfinite(result.uncertainty).all() and result.probs.dtype == torch.float32
    assert (result.probs - reference.probs).abs().max() < 0.05  # bf16 rounding only
