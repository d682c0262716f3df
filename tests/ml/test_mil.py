"""Embedding video scorers (ml.models.mil): attention MIL and the mean/std probe over frame embeddings."""

from __future__ import annotations

import pytest
import torch

from ml.models import (
    MODEL_REGISTRY,
    EmbeddingScorerOutput,
    EmbeddingVideoScorer,
    create_model,
    list_models,
    pad_bags,
)

pytestmark = pytest.mark.usefixtures("two_threads")

D = 8
FINDINGS = ("a_lines", "b_lines")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _scorer(pooling: str, findings: tuple[str, ...] = FINDINGS, hidden: int = 16) -> EmbeddingVideoScorer:
    return EmbeddingVideoScorer(D, 4, findings=findings, pooling=pooling, hidden=hidden, attention=6).eval()


@pytest.mark.parametrize("pooling", ["attention", "mean_std"])
@pytest.mark.parametrize("findings", [FINDINGS, ()])
@pytest.mark.parametrize("hidden", [16, 0])
def test_output_shapes(pooling: str, findings: tuple[str, ...], hidden: int) -> None:
    model = _scorer(pooling, findings, hidden)
    x, mask = torch.randn(3, 5, D), torch.ones(3, 5, dtype=torch.bool)
    mask[1, 3:] = False
    out = model(x, mask)
    assert isinstance(out, EmbeddingScorerOutput)
    assert out.logits.shape == (3, 4)
    assert out.instance_logits.shape == (3, 5, 4)
    assert out.temperature.ndim == 0 and float(out.temperature) == 1.0
    assert torch.allclose(out.probs().sum(1), torch.ones(3))
    assert torch.allclose(out.instance_probs().sum(-1), torch.ones(3, 5))
    if findings:
        assert out.finding_logits is not None and out.finding_logits.shape == (3, 2)
        probs = out.finding_probs()
        assert probs is not None and ((probs > 0) & (probs < 1)).all()
    else:
        assert out.finding_logits is None and out.finding_probs() is None
    if pooling == "attention":
        assert out.attention is not None and out.attention.shape == (3, 5)
    else:
        assert out.attention is None
    assert model(x).logits.shape == (3, 4)  # no mask: every frame counts


@pytest.mark.parametrize("pooling", ["attention", "mean_std"])
def test_padding_does_not_change_a_video(pooling: str) -> None:
    model = _scorer(pooling)
    short, long = torch.randn(3, D), torch.randn(5, D)
    x, mask = pad_bags([short, long])
    x[0, 3:] = 1e3 * torch.randn(2, D)  # garbage under mask=False
    with torch.no_grad():
        padded = model(x, mask)
        alone = model(short[None])
        alone_long = model(long[None])
    assert torch.allclose(padded.logits[0], alone.logits[0], atol=1e-5)
    assert torch.allclose(padded.finding_logits[0], alone.finding_logits[0], atol=1e-5)
    assert torch.allclose(padded.instance_logits[0, :3], alone.instance_logits[0], atol=1e-5)
    assert torch.allclose(padded.logits[1], alone_long.logits[0], atol=1e-5)


def test_attention_weights_sum_to_one_and_skip_padding() -> None:
    model = _scorer("attention")
    x, mask = pad_bags([torch.randn(2, D), torch.randn(6, D), torch.randn(4, D)])
    out = model(x, mask)
    assert out.attention is not None
    assert torch.allclose(out.attention.sum(1), torch.ones(3))
    assert (out.attention[~mask] == 0).all()
    assert (out.attention[mask] > 0).all()


@pytest.mark.parametrize("pooling", ["attention", "mean_std"])
def test_a_frame_scores_as_a_bag_of_one(pooling: str) -> None:
    """The per-frame timeline is the video head applied to each frame alone."""
    model = _scorer(pooling)
    x = torch.randn(2, 4, D)
    with torch.no_grad():
        out = model(x)
        for b in range(2):
            for i in range(4):
                single = model(x[b:b + 1, i:i + 1]).logits[0]
                assert torch.allclose(out.instance_logits[b, i], single, atol=1e-5)


def test_temperature_changes_probs_not_the_prediction() -> None:
    model = _scorer("attention")
    x = 3 * torch.randn(6, 5, D)
    with torch.no_grad():
        before = model(x)
        before_probs = before.probs()
        model.set_temperature(2.5)
        after = model(x)
    assert float(after.temperature) == 2.5
    assert torch.equal(before.logits, after.logits)  # the temperature only divides probabilities
    assert not torch.allclose(before_probs, after.probs())
    assert torch.equal(before_probs.argmax(1), after.probs().argmax(1))
    # an output is a snapshot: recalibrating the model later does not change it
    assert float(before.temperature) == 1.0 and torch.equal(before.probs(), before_probs)
    assert torch.allclose(after.probs(), torch.softmax(after.logits / 2.5, dim=1))
    assert torch.allclose(after.instance_probs(), torch.softmax(after.instance_logits / 2.5, dim=-1))
    assert after.probs().max(1).values.max() < before_probs.max(1).values.max()  # softer
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be > 0"):
            model.set_temperature(bad)
    assert float(model.temperature) == 2.5


def test_normalisation_standardises_the_input() -> None:
    model = _scorer("mean_std")
    mean, std = torch.randn(D), torch.rand(D) + 0.5
    x = torch.randn(2, 4, D)
    with torch.no_grad():
        raw = model(x).logits
        model.set_normalisation(mean, std)
        assert torch.allclose(model(x * std + mean).logits, raw, atol=1e-5)
    model.set_normalisation(mean, torch.zeros(D))  # a constant feature must not divide by zero
    assert float(model.feature_std.min()) > 0
    assert torch.isfinite(model(x).logits).all()


def test_state_dict_round_trip_keeps_normalisation_and_temperature() -> None:
    model = _scorer("attention")
    model.set_normalisation(torch.randn(D), torch.rand(D) + 0.5)
    model.set_temperature(1.7)
    state = model.state_dict()
    assert {"feature_mean", "feature_std", "temperature"} <= set(state)
    copy = _scorer("attention")
    copy.load_state_dict(state)
    for name in ("feature_mean", "feature_std", "temperature"):
        assert torch.equal(getattr(copy, name), getattr(model, name))
    x = torch.randn(3, 4, D)
    with torch.no_grad():
        assert torch.allclose(copy(x).probs(), model(x).probs())


def test_bad_shapes_and_arguments() -> None:
    model = _scorer("attention")
    with pytest.raises(ValueError, match=r"expected \(B, N, 8\)"):
        model(torch.randn(4, D))
    with pytest.raises(ValueError, match=r"expected \(B, N, 8\)"):
        model(torch.randn(2, 4, D + 1))
    with pytest.raises(ValueError, match="mask must be"):
        model(torch.randn(2, 4, D), torch.ones(2, 3, dtype=torch.bool))
    empty_video = torch.ones(2, 4, dtype=torch.bool)
    empty_video[1] = False
    with pytest.raises(ValueError, match="at least one frame per video"):
        model(torch.randn(2, 4, D), empty_video)
    with pytest.raises(ValueError, match="pooling must be one of attention, mean_std"):
        EmbeddingVideoScorer(D, pooling="max")
    for kwargs in ({"in_features": 0}, {"num_classes": 1}, {"hidden": -1}, {"attention": 0}, {"dropout": 1.0}):
        with pytest.raises(ValueError):
            EmbeddingVideoScorer(**{"in_features": D, **kwargs})
    with pytest.raises(ValueError, match="no bags"):
        pad_bags([])
    with pytest.raises(ValueError, match="every bag is empty"):
        pad_bags([torch.zeros(0, D)])


def test_pad_bags() -> None:
    a, b = torch.randn(2, D).half(), torch.randn(4, D).half()
    x, mask = pad_bags([a, b])
    assert x.shape == (2, 4, D) and x.dtype == torch.float32
    assert mask.tolist() == [[True, True, False, False], [True] * 4]
    assert torch.equal(x[0, :2], a.float()) and (x[0, 2:] == 0).all()
    assert torch.equal(x[1], b.float())


def test_registry_entries() -> None:
    assert list_models("embedding") == ["attention_mil", "embedding_probe"]
    for name in ("attention_mil", "embedding_probe"):
        assert MODEL_REGISTRY[name].task == "embedding"
    mil = create_model("attention_mil", in_features=D)
    probe = create_model("embedding_probe", in_features=D, findings=["b_lines"])
    assert isinstance(mil, EmbeddingVideoScorer) and mil.pooling == "attention"
    assert mil.findings == FINDINGS and mil.num_classes == 4
    assert isinstance(probe, EmbeddingVideoScorer) and probe.pooling == "mean_std"
    assert probe.findings == ("b_lines",)
    # the probe is linear: no projection layer, the severity head reads mean and std of the input
    assert not any(isinstance(m, torch.nn.Linear) for m in probe.project.modules())
    assert probe.severity.in_features == 2 * D
    assert create_model("attention_mil").in_features == 1280  # EfficientNet-Lite0's features
