"""Frame scorers: registry, shapes, crop geometry, Reg-STN specifics."""

from __future__ import annotations

import math

import pytest
import torch

from ml.models import (
    MODEL_REGISTRY,
    FrameScorerOutput,
    RegSTN,
    create_model,
    crop_boxes,
    get_model_spec,
    list_models,
    sample_crop,
    similarity_theta,
)

EXPECTED = {
    "cnn_ce",
    "cnn_sord",
    "resnet18_sord",
    "cnn_stn_sord",
    "cnn_randomcrop_sord",
    "reg_stn",
    "reg_stn_fixed",
    "lite0_sord",
    "reg_stn_lite0",
}
SEGMENTERS = {"unet_roy", "unet_plusplus", "deeplabv3_plus", "seg_ensemble"}
SEQUENCE_MODELS = {"densenet_lstm", "xception_lstm", "lite0_lstm"}
EMBEDDING_MODELS = {"attention_mil", "embedding_probe"}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_registry_names_and_losses():
    assert set(MODEL_REGISTRY) == EXPECTED | SEGMENTERS | SEQUENCE_MODELS | EMBEDDING_MODELS
    assert list_models("frame") == sorted(EXPECTED)
    assert list_models("segmentation") == sorted(SEGMENTERS)
    assert list_models("sequence") == sorted(SEQUENCE_MODELS)
    assert list_models("embedding") == sorted(EMBEDDING_MODELS)
    assert list_models() == sorted(EXPECTED | SEGMENTERS | SEQUENCE_MODELS | EMBEDDING_MODELS)
    assert MODEL_REGISTRY["cnn_ce"].loss == "ce"
    assert all(MODEL_REGISTRY[n].loss == "sord" for n in EXPECTED - {"cnn_ce"})
    assert MODEL_REGISTRY["reg_stn"].loss_kwargs["consistency_weight"] > 0
    assert MODEL_REGISTRY["reg_stn"].loss_kwargs["scale_weight"] > 0
    assert MODEL_REGISTRY["reg_stn_fixed"].loss_kwargs["consistency_weight"] > 0
    assert MODEL_REGISTRY["cnn_stn_sord"].loss_kwargs["consistency_weight"] == 0
    assert MODEL_REGISTRY["reg_stn_lite0"].loss_kwargs == MODEL_REGISTRY["reg_stn"].loss_kwargs
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="unknown model"):
        get_model_spec("nope")
    with pytest.raises(ValueError, match="unknown model 'unet_roy' for task 'frame'"):
        get_model_spec("unet_roy", "frame")


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("hw", [(32, 32), (48, 64)])
def test_forward_shapes(name, hw):
    model = create_model(name, num_classes=4)
    x = torch.rand(3, 1, *hw) * 2 - 1
    model.train()
    out = model(x)
    assert isinstance(out, FrameScorerOutput)
    assert out.logits.shape == (3, 4)
    two_crop = name in ("reg_stn", "reg_stn_fixed", "reg_stn_lite0")
    assert (out.logits2 is not None) == two_crop
    if two_crop:
        assert out.logits2.shape == (3, 4)
        assert out.theta2.shape == (3, 2, 3)
        assert out.scales.shape == (3, 2)
    if name in ("cnn_ce", "cnn_sord", "resnet18_sord", "lite0_sord"):
        assert out.theta1 is None and out.scales is None
    else:
        assert out.theta1.shape == (3, 2, 3)
        b1, _ = out.boxes(*hw)
        assert b1.shape == (3, 4, 2)
    model.eval()
    with torch.no_grad():
        ev = model(x)
    assert ev.logits.shape == (3, 4)
    assert ev.logits2 is None  # at inference only x1 is classified
    assert torch.allclose(ev.probs().sum(1), torch.ones(3))
    build_loss = MODEL_REGISTRY[name].build_loss()
    assert build_loss(out, torch.tensor([0, 1, 3])).total.ndim == 0


@pytest.mark.parametrize(
    "bad",
    [torch.zeros(2, 1, 31, 64), torch.zeros(2, 3, 64, 64), torch.zeros(1, 64, 64), torch.zeros(0, 1, 64, 64)],
)
def test_input_validation(bad):
    for name in ("reg_stn", "cnn_sord", "resnet18_sord", "cnn_randomcrop_sord"):
        with pytest.raises(ValueError):
            create_model(name)(bad)


def test_constructor_validation():
    with pytest.raises(ValueError):
        RegSTN(scales=(0.5, 0.6, 0.7))
    with pytest.raises(ValueError):
        RegSTN(scales=(1.5, 0.5))
    with pytest.raises(ValueError):
        RegSTN(crop_fraction=0)
    with pytest.raises(ValueError):
        create_model("cnn_sord", widths=(8, 8))
    with pytest.raises(ValueError):
        create_model("cnn_randomcrop_sord", scale_range=(0.8, 0.5))
    with pytest.raises(ValueError):
        create_model("resnet18_sord", num_classes=1)


def test_crop_boxes_identity_and_known_theta():
    ident = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])
    boxes = crop_boxes(ident, 100, 200)
    assert torch.allclose(boxes[0], torch.tensor([[0.0, 0], [200, 0], [200, 100], [0, 100]]))
    # scale 0.5, centre shifted right by half the half-width: x in [100, 200], y in [25, 75]
    theta = similarity_theta(
        torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([[0.5, 0.0]]), height=100, width=200
    )
    assert torch.allclose(
        crop_boxes(theta, 100, 200)[0], torch.tensor([[100.0, 25], [200, 25], [200, 75], [100, 75]])
    )
    with pytest.raises(ValueError):
        crop_boxes(torch.zeros(2, 3, 3), 10, 10)
    with pytest.raises(ValueError):
        crop_boxes(ident, 0, 10)


def test_crop_box_matches_sampled_pixels():
    img = torch.arange(100 * 200, dtype=torch.float32).view(1, 1, 100, 200) / 20000.0 * 2 - 1
    theta = similarity_theta(
        torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([[0.5, 0.0]]), height=100, width=200
    )
    crop = sample_crop(img, theta, (50, 100))
    # the box says x in [100, 200), y in [25, 75): exactly those pixels are sampled
    assert torch.allclose(crop, img[:, :, 25:75, 100:200], atol=1e-5)
    # outside the frame reads black (-1)
    far = similarity_theta(
        torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([[3.0, 3.0]]), height=100, width=200
    )
    assert torch.allclose(sample_crop(img, far, (10, 10)), torch.full((1, 1, 10, 10), -1.0))


def test_rotation_is_rigid_in_pixels_for_non_square_frames():
    h, w, s = 50, 100, 0.5
    for angle in (0.3, math.pi / 2, -1.0):
        theta = similarity_theta(
            torch.tensor([s]), torch.tensor([angle]), torch.zeros(1, 2), height=h, width=w
        )
        b = crop_boxes(theta, h, w)[0]
        top, right = (b[1] - b[0]).norm(), (b[2] - b[1]).norm()
        assert top.item() == pytest.approx(s * w, rel=1e-5)
        assert right.item() == pytest.approx(s * h, rel=1e-5)
        assert torch.dot(b[1] - b[0], b[2] - b[1]).abs().item() < 1e-3  # right angle
        assert torch.allclose(b.mean(0), torch.tensor([w / 2, h / 2]), atol=1e-4)  # centred


@pytest.mark.parametrize("name", ["reg_stn", "reg_stn_fixed", "cnn_stn_sord"])
def test_initial_crops_are_centred_at_prior_scales(name):
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 96) * 2 - 1)
    priors = model.scale_priors
    assert torch.allclose(out.scales, torch.tensor(priors).expand(2, -1), atol=1e-6)
    assert torch.allclose(out.theta1[:, :, 2], torch.zeros(2, 2))
    b1, b2 = out.boxes(64, 96)
    assert torch.allclose(b1.mean(1), torch.tensor([48.0, 32.0]).expand(2, 2), atol=1e-4)
    if b2 is not None:
        assert torch.allclose(b2.mean(1), torch.tensor([48.0, 32.0]).expand(2, 2), atol=1e-4)
        # crop 2 is the larger one
        assert (b2[:, 1, 0] - b2[:, 0, 0] > b1[:, 1, 0] - b1[:, 0, 0]).all()


@pytest.mark.parametrize("name", ["reg_stn", "reg_stn_fixed"])
def test_each_crop_uses_its_own_translation(name):
    model = create_model(name).eval()
    head = model.transform_head
    with torch.no_grad():
        head.translation.bias.copy_(torch.tensor([0.4, -0.2, -0.6, 0.3]))  # (tx1, ty1, tx2, ty2)
        out = model(torch.rand(2, 1, 64, 64) * 2 - 1)
    s = out.scales
    expected1 = torch.tanh(torch.tensor([0.4, -0.2])) * (1 - s[:, :1])
    expected2 = torch.tanh(torch.tensor([-0.6, 0.3])) * (1 - s[:, 1:])
    assert torch.allclose(out.theta1[:, :, 2], expected1, atol=1e-6)
    assert torch.allclose(out.theta2[:, :, 2], expected2, atol=1e-6)
    assert not torch.allclose(out.theta1[:, :, 2], out.theta2[:, :, 2])


def test_fixed_variant_has_constant_scales_and_no_rotation():
    model = create_model("reg_stn_fixed").train()
    out = model(torch.rand(4, 1, 64, 64) * 2 - 1)
    assert torch.allclose(out.scales, torch.tensor([[0.5, 0.75]]).expand(4, 2))
    assert torch.allclose(out.theta1[:, 0, 1], torch.zeros(4)) and torch.allclose(
        out.theta1[:, 1, 0], torch.zeros(4)
    )
    assert torch.allclose(out.theta1[:, 0, 0], torch.full((4,), 0.5))
    assert torch.allclose(out.theta2[:, 1, 1], torch.full((4,), 0.75))


def test_gradients_reach_the_localisation_network():
    model = create_model("reg_stn").train()
    crit = MODEL_REGISTRY["reg_stn"].build_loss()
    x = torch.rand(4, 1, 64, 64) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    crit(model(x), y).total.backward()
    head = model.transform_head
    for layer in (head.translation, head.scale, head.rotation):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    # after one update of the (zero-initialised) head, gradients reach the localisation trunk
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
    opt.zero_grad()
    crit(model(x), y).total.backward()
    first_conv = model.localisation.trunk.blocks[0][0]
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_random_crop_is_seeded_and_centred_at_eval():
    model = create_model("cnn_randomcrop_sord").train()
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    torch.manual_seed(1)
    a = model(x).theta1
    torch.manual_seed(1)
    b = model(x).theta1
    assert torch.equal(a, b)
    s = a[:, 0, 0]
    assert ((s >= 0.5) & (s <= 0.75)).all()
    assert (a[:, :, 2].abs() <= (1 - s).unsqueeze(1) + 1e-6).all()  # crop inside the frame
    model.eval()
    ev = model(x)
    assert torch.allclose(ev.theta1[:, :, 2], torch.zeros(3, 2))


def test_resnet18_takes_one_channel():
    model = create_model("resnet18_sord")
    assert model.net.conv1.in_channels == 1
    assert model.net.fc.out_features == 4
