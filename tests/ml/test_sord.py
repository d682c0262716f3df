"""SORD soft labels and loss (paper Eq. 3-4)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ml.losses.sord import SORDLoss, soft_cross_entropy, sord_soft_labels


def _expected_row(t: int, scale: float, zero_offset: float, c: int = 4) -> list[float]:
    r = [-zero_offset, *range(1, c)]
    w = [math.exp(-scale * (r[t] - ri) ** 2) for ri in r]
    return [v / sum(w) for v in w]


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("zero_offset", [0.0, 0.5])
def test_soft_labels_hand_computed(scale, zero_offset):
    q = sord_soft_labels(torch.arange(4), scale=scale, zero_offset=zero_offset)
    expected = torch.tensor([_expected_row(t, scale, zero_offset) for t in range(4)])
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q.sum(1), torch.ones(4))
    assert (q.argmax(1) == torch.arange(4)).all()


def test_soft_labels_values_and_properties():
    q = sord_soft_labels(torch.tensor([1]))[0]
    # distances to class 1: 1, 0, 1, 4 -> weights e^-1, 1, e^-1, e^-4
    z = 1 + 2 * math.exp(-1) + math.exp(-4)
    assert q.tolist() == pytest.approx([math.exp(-1) / z, 1 / z, math.exp(-1) / z, math.exp(-4) / z])
    # Unimodal and symmetric around the true class when zero_offset = 0.
    assert q[0] == pytest.approx(q[2].item())
    # zero_offset moves score 0 away: less mass on 0 for label 1, more mass on the label for label 0.
    shifted = sord_soft_labels(torch.tensor([1, 0]), zero_offset=0.5)
    assert shifted[0, 0] < q[0] and shifted[1, 0] > sord_soft_labels(torch.tensor([0]))[0, 0]
    # Larger scale -> sharper.
    assert sord_soft_labels(torch.tensor([2]), scale=5.0)[0, 2] > sord_soft_labels(torch.tensor([2]))[0, 2]
    assert sord_soft_labels(torch.tensor([], dtype=torch.long)).shape == (0, 4)
    assert sord_soft_labels(torch.tensor([4]), num_classes=5).shape == (1, 5)


def test_soft_labels_validation():
    for labels in (torch.tensor([4]), torch.tensor([-1]), torch.tensor([0.0]), torch.tensor([[0]])):
        with pytest.raises(ValueError):
            sord_soft_labels(labels)
    for kwargs in ({"scale": 0.0}, {"scale": math.inf}, {"zero_offset": -1.0}, {"num_classes": 1}):
        with pytest.raises(ValueError):
            sord_soft_labels(torch.tensor([0]), **kwargs)


def test_soft_cross_entropy_matches_hard_ce_for_one_hot():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 3, 1])
    one_hot = F.one_hot(labels, 4).float()
    torch.testing.assert_close(soft_cross_entropy(logits, one_hot), F.cross_entropy(logits, labels))
    q = sord_soft_labels(labels)
    torch.testing.assert_close(soft_cross_entropy(logits, q), F.cross_entropy(logits, q))
    with pytest.raises(ValueError):
        soft_cross_entropy(logits, q[:, :3])
    with pytest.raises(ValueError):
        soft_cross_entropy(logits[:0], q[:0])


def test_sord_loss_module():
    loss_fn = SORDLoss(scale=2.0, zero_offset=0.5)
    logits = torch.zeros(3, 4, requires_grad=True)
    labels = torch.tensor([0, 2, 3])
    loss = loss_fn(logits, labels)
    expected = soft_cross_entropy(logits, sord_soft_labels(labels, scale=2.0, zero_offset=0.5))
    torch.testing.assert_close(loss, expected)
    assert loss.item() == pytest.approx(math.log(4))  # uniform prediction: H(q, u) = log C
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    # Minimised by predicting the soft targets themselves (gradient zero there).
    target_logits = sord_soft_labels(labels, scale=2.0, zero_offset=0.5).log().requires_grad_(True)
    loss_fn(target_logits, labels).backward()
    torch.testing.assert_close(target_logits.grad, torch.zeros(3, 4), atol=1e-6, rtol=0)
    # Ordinal: predicting a far class costs more than a near one.
    near = loss_fn(torch.tensor([[0.0, 0.0, 5.0, 0.0]]), torch.tensor([3]))
    far = loss_fn(torch.tensor([[5.0, 0.0, 0.0, 0.0]]), torch.tensor([3]))
    assert near < far
    with pytest.raises(ValueError):
        loss_fn(torch.zeros(3, 5), labels)
    with pytest.raises(ValueError):
        loss_fn(torch.zeros(3, 4), labels[:2])
    with pytest.raises(ValueError):
        SORDLoss(scale=-1.0)
    assert "zero_offset=0.5" in repr(loss_fn)
