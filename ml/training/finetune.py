"""Fine-tuning the last encoder stages of the embedding recipe within a time budget (optional; not the default).

The frozen front of the encoder (every stage but the last ``stages``) runs once per frame and its feature maps
are cached like the embeddings (:class:`FrontEmbedder`; for EfficientNet-Lite0 at 224 px and one stage,
192 x 7 x 7 per frame); the tail (those stages, the 1x1 head convolution and its batch norm, global mean
pooling) and the video head then train together on them. The head starts from the recipe's own fitted probe
(:func:`ml.training.train_embedding_model` on the pretrained tail's embeddings, which are the cached
embeddings), so fine-tuning can only move away from it when the validation loss improves; the tail's batch
norm keeps its ImageNet statistics. The calibration temperature is refitted on the validation patients.

    bags = folder_bags(folder, EmbeddingCache("var/embeddings/front1"), embedder=FrontEmbedder(stages=1))
    result = finetune_embedding_model(EmbeddingTrainConfig(), bags, stages=1, max_time_s=300)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.embeddings import EmbeddingSpec, FrameEmbedder, VideoBag
from ml.losses import sord_soft_labels
from ml.metrics.calibration import fit_temperature
from ml.models import EmbeddingVideoScorer
from ml.models.encoders import PretrainedEncoder
from ml.models.mil import EmbeddingScorerOutput
from ml.utils import seed_everything

from .embedding import EmbeddingTrainConfig, split_validation, train_embedding_model

__all__ = ["EncoderTail", "FinetuneResult", "FinetunedVideoScorer", "FrontEmbedder", "finetune_embedding_model",
           "finetuned_predictions", "split_encoder"]


class EncoderTail(nn.Module):
    """The last stages of a timm EfficientNet, its head convolution and batch norm, mean pooling:
    ``(F, C, h, w)`` front feature maps -> ``(F, features)``."""

    def __init__(self, blocks: Sequence[nn.Module], conv_head: nn.Module, bn2: nn.Module) -> None:
        super().__init__()
        self.blocks, self.conv_head, self.bn2 = nn.Sequential(*blocks), conv_head, bn2

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv_head(self.blocks(maps))).mean(dim=(2, 3))


def split_encoder(encoder: PretrainedEncoder, stages: int) -> tuple[nn.Module, EncoderTail]:
    """(front: grayscale frames -> feature maps, tail: maps -> pooled features); ``front`` then ``tail`` is
    ``encoder``. The modules are shared with ``encoder`` (copy it to train the tail apart)."""
    backbone: Any = encoder.backbone
    count = len(backbone.blocks)
    if not 1 <= stages <= count:
        raise ValueError(f"stages must be in 1..{count}, got {stages}")
    front = nn.Sequential(encoder.input, backbone.conv_stem, backbone.bn1, *backbone.blocks[:count - stages])
    return front, EncoderTail(list(backbone.blocks[count - stages:]), backbone.conv_head, backbone.bn2)


class FrontEmbedder(FrameEmbedder):
    """A :class:`FrameEmbedder` whose ``embed`` returns the front's float16 feature maps ``(N, C, h, w)``
    (cache them in a folder of their own: their cache key is the embeddings')."""

    def __init__(self, spec: EmbeddingSpec | None = None, *, stages: int = 1, batch_size: int = 32) -> None:
        super().__init__(spec, batch_size=batch_size)
        self.stages = stages
        self.front = split_encoder(self.encoder, stages)[0].eval()

    @torch.no_grad()
    def embed(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(frames), self.batch_size):
            batch = np.stack([self._prepare(f) for f in frames[start:start + self.batch_size]])
            x = torch.from_numpy(batch).float().div_(127.5).sub_(1.0).unsqueeze(1)
            out.append(self.front(x).half().numpy())
        return np.concatenate(out)


class FinetunedVideoScorer(nn.Module):
    """Tail + embedding head: ``(x (B, N, C, h, w) maps, mask (B, N)) -> EmbeddingScorerOutput``."""

    def __init__(self, tail: EncoderTail, head: EmbeddingVideoScorer) -> None:
        super().__init__()
        self.tail, self.head = tail, head

    def train(self, mode: bool = True) -> FinetunedVideoScorer:
        """As ``nn.Module.train``, but the tail's batch norm keeps its ImageNet statistics."""
        super().train(mode)
        for module in self.tail.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> EmbeddingScorerOutput:
        features = self.tail(x[mask].float())
        embedded = features.new_zeros((*mask.shape, features.shape[1]))
        embedded[mask] = features
        return self.head(embedded, mask)


@dataclass
class FinetuneResult:
    model: FinetunedVideoScorer
    history: list[dict[str, Any]]
    metrics: dict[str, Any]


def _batch(bags: Sequence[VideoBag], findings: Sequence[str]) -> dict[str, torch.Tensor]:
    length = max(len(b.frames) for b in bags)
    shape = np.asarray(bags[0].embeddings).shape[1:]
    x = torch.zeros((len(bags), length, *shape))
    mask = torch.zeros((len(bags), length), dtype=torch.bool)
    for i, bag in enumerate(bags):
        x[i, :len(bag.frames)] = torch.from_numpy(np.asarray(bag.embeddings, dtype=np.float32))
        mask[i, :len(bag.frames)] = True
    return {"x": x, "mask": mask, "scores": torch.tensor([int(b.score) for b in bags]),  # type: ignore[arg-type]
            "known": torch.tensor([[code in b.findings for code in findings] for b in bags], dtype=torch.float32),
            "present": torch.tensor([[bool(b.findings.get(c, False)) for c in findings] for b in bags],
                                    dtype=torch.float32)}


def _loss(model: FinetunedVideoScorer, data: dict[str, torch.Tensor], config: EmbeddingTrainConfig,
          weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = model(data["x"], data["mask"])
    soft = sord_soft_labels(data["scores"], config.num_classes, scale=config.sord_scale)
    w = weights[data["scores"]]
    loss = ((-(soft * out.logits.log_softmax(1)).sum(1)) * w).sum() / w.sum()
    if out.finding_logits is not None and config.findings_weight > 0 and bool(data["known"].any()):
        bce = nn.functional.binary_cross_entropy_with_logits(out.finding_logits, data["present"], reduction="none")
        loss = loss + config.findings_weight * (bce * data["known"]).sum() / data["known"].sum()
    return loss, out.logits


def _evaluate(model: FinetunedVideoScorer, bags: Sequence[VideoBag], config: EmbeddingTrainConfig,
              weights: torch.Tensor, batch: int = 8) -> tuple[float, np.ndarray]:
    model.eval()
    total, logits = 0.0, []
    with torch.no_grad():
        for start in range(0, len(bags), batch):
            chunk = bags[start:start + batch]
            loss, out = _loss(model, _batch(chunk, config.findings), config, weights)
            total += float(loss) * len(chunk)
            logits.append(out.numpy())
    return total / len(bags), np.concatenate(logits)


def finetune_embedding_model(config: EmbeddingTrainConfig, bags: Sequence[VideoBag], *, stages: int,
                             max_time_s: float, lr: float = 1e-4, batch_videos: int = 4,
                             max_epochs: int = 20) -> FinetuneResult:
    """Warm-start the recipe's head on the pretrained tail, then train tail and head on the cached front maps
    (``bags``' ``embeddings`` are ``(N, C, h, w)``) with AdamW until ``max_time_s``, ``max_epochs`` or 3
    epochs without a lower validation loss, keeping the best state; refit the temperature."""
    if max_time_s <= 0:
        raise ValueError(f"max_time_s must be > 0, got {max_time_s}")
    seed_everything(config.seed)
    started = time.monotonic()
    train, val = split_validation(bags, config.validation_fraction, config.seed)
    encoder = PretrainedEncoder(config.encoder, config.pretrained)
    tail = copy.deepcopy(split_encoder(encoder, stages)[1]).eval()

    def embedded(group: Sequence[VideoBag]) -> list[VideoBag]:
        with torch.no_grad():
            return [replace(b, embeddings=tail(torch.from_numpy(np.asarray(b.embeddings, dtype=np.float32))).numpy())
                    for b in group]

    warm = train_embedding_model(replace(config, uninorm_folds=0), embedded(train), val_bags=embedded(val))
    model = FinetunedVideoScorer(tail, warm.model)
    model.head.set_temperature(1.0)
    counts = np.bincount([int(b.score) for b in train], minlength=config.num_classes).astype(np.float64)  # type: ignore[arg-type]
    weights = torch.tensor(len(train) / (config.num_classes * np.maximum(counts, 1)) if config.balanced
                           else np.ones(config.num_classes), dtype=torch.float32)
    best_loss, _ = _evaluate(model, val, config, weights)
    best, best_epoch = copy.deepcopy(model.state_dict()), 0
    history: list[dict[str, Any]] = [{"epoch": 0, "val_loss": best_loss}]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    epoch, stopped_at_time_limit = 0, False
    while epoch < max_epochs and epoch - best_epoch < 3 and not stopped_at_time_limit:
        epoch += 1
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(order), batch_videos):
            loss, _ = _loss(model, _batch([train[i] for i in order[start:start + batch_videos]], config.findings),
                            config, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if time.monotonic() - started > max_time_s:
                stopped_at_time_limit = True
                break
        val_loss, _ = _evaluate(model, val, config, weights)
        history.append({"epoch": epoch, "val_loss": val_loss, "seconds": round(time.monotonic() - started, 1)})
        if val_loss < best_loss:
            best_loss, best, best_epoch = val_loss, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best)
    _, val_logits = _evaluate(model, val, config, weights)
    temperature = fit_temperature(val_logits, np.array([int(b.score) for b in val]))  # type: ignore[arg-type]
    model.head.set_temperature(temperature)
    model.eval()
    metrics = {"best_epoch": best_epoch, "epochs": epoch, "stopped_at_time_limit": stopped_at_time_limit,
               "val_loss": best_loss, "warm_val_loss": history[0]["val_loss"], "temperature": temperature,
               "seconds": round(time.monotonic() - started, 1)}
    return FinetuneResult(model=model, history=history, metrics=metrics)


@torch.no_grad()
def finetuned_predictions(model: FinetunedVideoScorer, bags: Sequence[VideoBag], *, batch: int = 8) -> list[dict[str, Any]]:
    """Per video: calibrated ``probs`` and ``findings`` {code: P(present)} (as :func:`bag_predictions`)."""
    model.eval()
    out: list[dict[str, Any]] = []
    for start in range(0, len(bags), batch):
        chunk = bags[start:start + batch]
        data = _batch([replace(b, score=b.score or 0) for b in chunk], model.head.findings)
        result = model(data["x"], data["mask"])
        probs, findings = result.probs().numpy(), result.finding_probs()
        for i, bag in enumerate(chunk):
            out.append({"video": bag.video, "probs": probs[i].tolist(),
                        "findings": ({c: float(findings[i, j]) for j, c in enumerate(model.head.findings)}
                                     if findings is not None else {})})
    return out
