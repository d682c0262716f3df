"""Fine-tuning the embedding recipe's last encoder stages (ml.training.finetune): the split encoder is the
encoder, the front maps embed and cache like embeddings, and fine-tuning warm-starts from the fitted probe,
keeps the best validation state, leaves batch norm statistics alone and stops at its time budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.embeddings import EmbeddingSpec, VideoBag
from ml.models.encoders import PretrainedEncoder
from ml.training import EmbeddingTrainConfig
from ml.training.finetune import FrontEmbedder, finetune_embedding_model, finetuned_predictions, split_encoder

pytestmark = [pytest.mark.usefixtures("two_threads"), pytest.mark.filterwarnings("ignore::UserWarning")]

SPEC = EmbeddingSpec(pretrained=None, size=64)


@pytest.mark.parametrize("stages", [1, 3])
def test_front_then_tail_is_the_encoder(stages: int) -> None:
    torch.manual_seed(0)
    encoder = PretrainedEncoder(pretrained=None).eval()
    front, tail = split_encoder(encoder, stages)
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(tail(front(x)), encoder(x))
    for bad in (0, 8):
        with pytest.raises(ValueError, match="stages"):
            split_encoder(encoder, bad)


def make_map_bags() -> list[VideoBag]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    embedder = FrontEmbedder(SPEC, stages=1)
    bags = []
    for p in range(10):
        for v in range(4):
            score = (p + v) % 4
            frames = np.clip(rng.normal(40 + 50 * score, 20, (3, 64, 64)), 0, 255).astype(np.uint8)
            maps = embedder.embed(list(frames))
            bags.append(VideoBag(f"p{p}_v{v}", f"p{p}", maps, np.arange(3), score, {"b_lines": score >= 2}))
    return bags


def test_finetune_warm_starts_keeps_the_best_and_stops_in_time() -> None:
    bags = make_map_bags()
    assert bags[0].embeddings.shape == (3, 192, 2, 2) and bags[0].embeddings.dtype == np.float16
    config = EmbeddingTrainConfig(pretrained=None, size=64, findings=("b_lines",))
    result = finetune_embedding_model(config, bags, stages=1, max_time_s=10, max_epochs=2)
    metrics = result.metrics
    assert metrics["val_loss"] <= metrics["warm_val_loss"] and result.history[0]["epoch"] == 0
    assert 1 <= metrics["epochs"] <= 2 and metrics["temperature"] > 0
    result.model.train()
    assert not any(m.training for m in result.model.tail.modules() if isinstance(m, torch.nn.BatchNorm2d))
    predictions = finetuned_predictions(result.model, bags[:5])
    assert [p["video"] for p in predictions] == [b.video for b in bags[:5]]
    assert all(sum(p["probs"]) == pytest.approx(1.0, abs=1e-5) and set(p["findings"]) == {"b_lines"}
               for p in predictions)
    quick = finetune_embedding_model(config, bags, stages=1, max_time_s=1e-3)
    assert quick.metrics["stopped_at_time_limit"] and quick.metrics["epochs"] == 1
    with pytest.raises(ValueError, match="max_time_s"):
        finetune_embedding_model(config, bags, stages=1, max_time_s=0)
