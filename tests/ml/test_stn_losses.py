"""Reg-STN losses (paper Eq. 5-7) and a short training sanity check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ml.losses import (
    RegSTNLoss,
    SORDLoss,
    consistency_loss,
    scale_prior_loss,
    soft_cross_entropy,
    sord_soft_labels,
)
from ml.models import MODEL_REGISTRY, create_model


def test_losses_reexported_from_sord_module():
    from ml.losses import sord

    assert SORDLoss is sord.SORDLoss and sord_soft_labels is sord.sord_soft_labels
    assert soft_cross_entropy is sord.soft_cross_entropy


def test_consistency_matches_hand_computation():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 3.0, 5.0], [1.0, 1.0, 1.0, 1.0]])
    # squared differences: [0, 4, 0, 1] and [1, 1, 1, 1] -> sum 9 over 8 entries
    assert consistency_loss(a, b).item() == pytest.approx(9 / 8)
    assert consistency_loss(a, a).item() == 0.0
    with pytest.raises(ValueError):
        consistency_loss(a, b[:, :3])


def test_scale_prior_matches_hand_computation():
    scales = torch.tensor([[0.6, 0.7], [0.5, 0.75], [0.3, 1.0]])
    # |0.1| + |0.05| = 0.15 ; 0 ; 0.2 + 0.25 = 0.45 -> mean 0.2
    assert scale_prior_loss(scales, (0.5, 0.75)).item() == pytest.approx(0.2)
    with pytest.raises(ValueError):
        scale_prior_loss(scales, (0.5,))


def _out(logits, logits2=None, scales=None):
    return SimpleNamespace(logits=logits, logits2=logits2, scales=scales)


def test_total_is_weighted_sum_of_parts():
    torch.manual_seed(0)
    l1, l2 = torch.randn(5, 4), torch.randn(5, 4)
    scales = torch.tensor([[0.55, 0.7]] * 5)
    y = torch.tensor([0, 1, 2, 3, 1])
    crit = RegSTNLoss(consistency_weight=2.0, scale_weight=3.0, sord_scale=2.0)
    parts = crit(_out(l1, l2, scales), y)
    sord = SORDLoss(4, scale=2.0)(l1, y)
    assert parts.classification.item() == pytest.approx(sord.item(), rel=1e-6)
    assert parts.consistency.item() == pytest.approx(F.mse_loss(l1, l2).item(), rel=1e-6)
    assert parts.scale.item() == pytest.approx(0.1, rel=1e-5)
    assert parts.total.item() == pytest.approx(sord.item() + 2 * parts.consistency.item() + 3 * 0.1, rel=1e-5)
    # hand-computed SORD: q = softmax(-2 (y - i)^2), loss = -sum q log softmax(logits)
    q = torch.softmax(-2.0 * (y[:, None].float() - torch.arange(4.0)[None]) ** 2, dim=1)
    manual = -(q * torch.log_softmax(l1, 1)).sum(1).mean()
    assert parts.classification.item() == pytest.approx(manual.item(), rel=1e-6)
    floats = parts.as_floats()
    assert set(floats) == {"total", "classification", "consistency", "scale"}


def test_zero_weights_and_missing_terms():
    l1, l2 = torch.randn(3, 4), torch.randn(3, 4)
    y = torch.tensor([0, 2, 3])
    only_cls = RegSTNLoss(consistency_weight=0.0, scale_weight=0.0)(_out(l1, l2, torch.rand(3, 2)), y)
    assert only_cls.total.item() == pytest.approx(only_cls.classification.item())
    no_second = RegSTNLoss()(_out(l1), y)
    assert no_second.consistency.item() == 0 and no_second.scale.item() == 0
    cw = RegSTNLoss(classification_weight=0.5, consistency_weight=0, scale_weight=0)(_out(l1), y)
    assert cw.total.item() == pytest.approx(0.5 * cw.classification.item())


def test_cross_entropy_variant():
    l1 = torch.randn(4, 4)
    y = torch.tensor([3, 2, 1, 0])
    parts = RegSTNLoss(classification="ce")(_out(l1), y)
    assert parts.classification.item() == pytest.approx(F.cross_entropy(l1, y).item(), rel=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        RegSTNLoss(classification="mse")
    with pytest.raises(ValueError):
        RegSTNLoss(consistency_weight=-1)
    with pytest.raises(ValueError):
        RegSTNLoss(scale_priors=(0.0, 2.0))
    with pytest.raises(ValueError, match="scale priors"):
        RegSTNLoss(scale_priors=(0.5, 0.75))(
            _out(torch.randn(2, 4), scales=torch.rand(2, 1)), torch.tensor([0, 1])
        )


def test_gradients_flow_through_all_terms():
    l1 = torch.randn(3, 4, requires_grad=True)
    l2 = torch.randn(3, 4, requires_grad=True)
    s = torch.full((3, 2), 0.6, requires_grad=True)
    RegSTNLoss()(_out(l1, l2, s), torch.tensor([0, 1, 2])).total.backward()
    assert l1.grad.abs().sum() > 0 and l2.grad.abs().sum() > 0 and s.grad.abs().sum() > 0


def _toy_batch(n: int = 16, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: dark frame with a bright horizontal line; class 3: many bright vertical streaks."""
    g = torch.Generator().manual_seed(0)
    x = torch.full((n, 1, size, size), -0.8) + 0.05 * torch.randn(n, 1, size, size, generator=g)
    y = torch.tensor([0, 3] * (n // 2))
    x[:, :, size // 4] = 0.9
    for i in range(1, n, 2):
        x[i, :, size // 4 :, ::4] = 0.8
    return x.clamp(-1, 1), y


@pytest.mark.parametrize("name", ["reg_stn", "reg_stn_fixed"])
def test_a_few_training_steps_reduce_the_loss(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    crit = MODEL_REGISTRY[name].build_loss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = _toy_batch()
    losses = []
    for _ in range(25):
        parts = crit(model(x), y)
        opt.zero_grad()
        parts.total.backward()
        opt.step()
        losses.append(parts.total.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:3]) / 3
