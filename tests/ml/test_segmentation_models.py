"""Segmenters: shapes, the split forward equals smp's own, the ensemble and MC dropout, training lowers the loss."""

from __future__ import annotations

import pytest
import torch

from ml.data import phantom_segmentation_samples
from ml.models import (
    MODEL_REGISTRY,
    LatentDropoutSegmenter,
    RoyUNet,
    SegmentationEnsemble,
    SMPDeepLabV3Plus,
    SMPUnetPlusPlus,
    create_model,
)
from ml.training import SegTrainConfig, train_segmentation
from tests.ml.tiny_models import TINY_SEGMENTERS

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("two_threads")]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny(name: str) -> LatentDropoutSegmenter:
    model = create_model(name, **TINY_SEGMENTERS[name])
    assert isinstance(model, LatentDropoutSegmenter)
    return model


def frames(b: int = 2, h: int = 40, w: int = 60) -> torch.Tensor:
    return torch.rand(b, 1, h, w) * 2 - 1


@pytest.mark.parametrize("name", sorted(TINY_SEGMENTERS))
@pytest.mark.parametrize("hw", [(40, 60), (37, 53)])
def test_logits_keep_the_input_size(name, hw):
    model = tiny(name).eval()
    with torch.no_grad():
        logits = model(frames(2, *hw))
    assert logits.shape == (2, 5, *hw) and torch.isfinite(logits).all()
    assert MODEL_REGISTRY[name].task == "segmentation"
    assert isinstance(MODEL_REGISTRY[name].build_loss(), torch.nn.CrossEntropyLoss)


@pytest.mark.parametrize("name", ["unet_plusplus", "deeplabv3_plus"])
def test_split_forward_is_smps_forward(name):
    """encode/decode re-sequence smp's decoder around the latent dropout: without dropout it is the same net."""
    model = tiny(name).eval()
    x, _ = model.pad(frames())
    with torch.no_grad():
        ours = model.decode(model.encode(x), stochastic=False)
        theirs = model.net(x)
    torch.testing.assert_close(ours, theirs)


def test_paper_defaults():
    unet = RoyUNet()
    assert unet.pools == (2, 2, 5) and unet.input_multiple == 20 and unet.latent_dropout_p == 0.5
    assert unet.latent(torch.zeros(1, 128, 10, 13)).shape == (1, 256, 10, 13)
    assert SMPUnetPlusPlus.__init__.__kwdefaults__["encoder_name"] == "resnet50"
    assert SMPDeepLabV3Plus.__init__.__kwdefaults__["encoder_name"] == "resnet50"
    assert SMPDeepLabV3Plus.__init__.__kwdefaults__["latent_dropout"] == 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"widths": [8, 16], "pools": [2, 2, 5]}, "equal length"),
    ({"latent_dropout": 1.0}, "latent_dropout"),
    ({"num_classes": 1}, "num_classes"),
])
def test_unet_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RoyUNet(**kwargs)


def test_segmenters_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        tiny("unet_roy")(torch.zeros(2, 3, 40, 60))


def ensemble() -> SegmentationEnsemble:
    return SegmentationEnsemble([tiny(name) for name in sorted(TINY_SEGMENTERS)])


def test_ensemble_is_the_mean_softmax_of_its_members():
    ens = ensemble().eval()
    x = frames()
    with torch.no_grad():
        expected = torch.stack([torch.softmax(m(x), 1) for m in ens.members]).mean(0)
        result = ens.predict(x, mc_samples=4)
    torch.testing.assert_close(ens(x), expected)
    torch.testing.assert_close(result.probs, expected)
    assert result.member_probs.shape == (3, 2, 5, 40, 60)
    torch.testing.assert_close(result.probs.sum(1), torch.ones(2, 40, 60))
    assert torch.equal(result.mask, expected.argmax(1))


@pytest.mark.parametrize("chunk", [3, 8])
def test_mc_dropout_uncertainty_shape_and_range(chunk):
    ens = ensemble().eval()
    result = ens.predict(frames(3, 37, 53), mc_samples=7, chunk=chunk)
    assert result.uncertainty is not None and result.uncertainty.shape == (3, 37, 53)
    assert result.uncertainty.dtype == torch.float32
    assert (result.uncertainty >= 0).all() and (result.uncertainty <= 0.5).all()
    assert result.uncertainty.max() > 0  # dropout is active while sampling
    assert not ens.training  # and the models are left as they were


def test_mc_dropout_matches_explicit_stochastic_passes():
    """The encoder-once sampling gives the same std as N full stochastic forward passes with the same masks."""
    model = tiny("unet_roy").eval()
    ens = SegmentationEnsemble([model]).eval()
    x = frames(1)
    torch.manual_seed(5)
    result = ens.predict(x, mc_samples=6, chunk=6)
    torch.manual_seed(5)
    with torch.no_grad():
        mask = ens(x).argmax(1)
        xp, _ = model.pad(x)
        state = model.encode(xp)
        samples = torch.softmax(model.decode(state.repeat(6), stochastic=True), 1)[..., :40, :60]
    picked = samples.gather(1, mask.expand(6, -1, -1).unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(result.uncertainty[0], picked.std(0, unbiased=False))


def test_without_dropout_the_uncertainty_is_zero():
    ens = SegmentationEnsemble([create_model("unet_roy", **TINY_SEGMENTERS["unet_roy"], latent_dropout=0.0)])
    result = ens.predict(frames(), mc_samples=5)
    assert result.uncertainty is not None and torch.count_nonzero(result.uncertainty) == 0
    assert ens.predict(frames(), mc_samples=0).uncertainty is None
    with pytest.raises(ValueError, match="mc_samples"):
        ens.predict(frames(), mc_samples=1)


def test_ensemble_from_specs_and_its_errors():
    ens = create_model("seg_ensemble", members=[{"model": n, "model_kwargs": TINY_SEGMENTERS[n]} for n in TINY_SEGMENTERS])
    assert isinstance(ens, SegmentationEnsemble) and len(ens.members) == 3
    with pytest.raises(ValueError, match="at least one member"):
        SegmentationEnsemble([])
    with pytest.raises(ValueError, match="disagree on num_classes"):
        SegmentationEnsemble([RoyUNet(num_classes=5, widths=[4, 4, 4], latent_width=4),
                              RoyUNet(num_classes=3, widths=[4, 4, 4], latent_width=4)])
    with pytest.raises(ValueError, match="must be segmenters"):
        SegmentationEnsemble([torch.nn.Linear(2, 2)])  # type: ignore[list-item]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY_SEGMENTERS))
def test_each_segmenter_learns_phantom_masks(name):
    """A few steps of the real training loop (cross-entropy, Adam, balanced batches) on exact phantom masks."""
    samples = phantom_segmentation_samples(n_patients=2, videos_per_patient=1, n_frames=4, height=64, width=80)
    config = SegTrainConfig(models=[name], model_kwargs={name: TINY_SEGMENTERS[name]}, epochs=4, batch_size=8,
                            steps_per_epoch=2, size=(40, 60), device="cpu", augment=False, lr=3e-3)
    losses = [h["train_loss"] for h in train_segmentation(config, samples).history]
    assert len(losses) == 4 and all(map(torch.isfinite, torch.tensor(losses)))
    assert losses[-1] < 0.85 * losses[0], losses
