"""Video scorers over frozen frame embeddings: attention MIL and a linear probe, with findings heads.

A video is a bag of frame embeddings ``(N, D)`` (from :class:`ml.models.encoders.PretrainedEncoder`,
cached by :mod:`ml.embeddings`). Only the video carries labels (the 0–3 severity score and findings
such as B-lines), so the frames are the instances of multiple-instance learning:

* ``pooling="attention"``: gated attention pooling (Ilse et al., ICML 2018) of projected frames;
* ``pooling="mean_std"``: mean and standard deviation over the frames, then linear heads (a probe).

Both give per-frame severity logits too (the severity head applied to each frame as a bag of one), so
the viewer can draw a P(score) timeline and the paper's uninorm can aggregate them. The input is
standardised with buffers set from the training embeddings, and the severity probabilities are
divided by a calibration temperature fitted on validation videos (both saved in the state dict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ml.scores import NUM_SCORES

__all__ = ["POOLINGS", "EmbeddingScorerOutput", "EmbeddingVideoScorer", "pad_bags"]

POOLINGS = ("attention", "mean_std")


@dataclass
class EmbeddingScorerOutput:
    """What an embedding video scorer returns for ``B`` videos of up to ``N`` frames.

    Attributes:
        logits: ``(B, C)`` severity logits (before the calibration temperature).
        finding_logits: ``(B, F)`` one logit per finding, or ``None`` without findings.
        instance_logits: ``(B, N, C)`` severity logits of each frame (padding rows are meaningless).
        attention: ``(B, N)`` attention weights (attention pooling; padding gets 0), else ``None``.
        temperature: the calibration temperature (a 0-dim tensor).
    """

    logits: torch.Tensor
    finding_logits: torch.Tensor | None
    instance_logits: torch.Tensor
    attention: torch.Tensor | None
    temperature: torch.Tensor

    def probs(self) -> torch.Tensor:
        """``(B, C)`` calibrated severity probabilities."""
        return torch.softmax(self.logits.float() / self.temperature, dim=1)

    def instance_probs(self) -> torch.Tensor:
        """``(B, N, C)`` calibrated per-frame severity probabilities."""
        return torch.softmax(self.instance_logits.float() / self.temperature, dim=-1)

    def finding_probs(self) -> torch.Tensor | None:
        """``(B, F)`` probability that each finding is present, or ``None``."""
        return None if self.finding_logits is None else torch.sigmoid(self.finding_logits.float())


def pad_bags(bags: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack bags of different lengths: ``[(N_i, D)] -> (x (B, N, D), mask (B, N) bool)``."""
    if not bags:
        raise ValueError("no bags")
    length = max(int(b.shape[0]) for b in bags)
    if length == 0:
        raise ValueError("every bag is empty")
    x = bags[0].new_zeros((len(bags), length, bags[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(bags), length), dtype=torch.bool, device=x.device)
    for i, bag in enumerate(bags):
        x[i, : bag.shape[0]] = bag.float()
        mask[i, : bag.shape[0]] = True
    return x, mask


class EmbeddingVideoScorer(nn.Module):
    """``(x (B, N, D), mask (B, N)) -> EmbeddingScorerOutput``.

    Args:
        in_features: embedding size ``D`` (1280 for EfficientNet-Lite0).
        num_classes: severity classes.
        findings: codes of the findings heads (e.g. ``("a_lines", "b_lines")``); empty for none.
        pooling: ``"attention"`` or ``"mean_std"``.
        hidden: width of the frame projection (0: no projection, the probe).
        attention: width of the gated attention layer.
        dropout: dropout on the input and the projection.

    Raises:
        ValueError: on bad arguments or input shapes.
    """

    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    temperature: torch.Tensor
    attention_v: nn.Linear
    attention_u: nn.Linear
    attention_w: nn.Linear

    def __init__(self, in_features: int = 1280, num_classes: int = NUM_SCORES, *,
                 findings: Sequence[str] = ("a_lines", "b_lines"), pooling: str = "attention", hidden: int = 128,
                 attention: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if in_features < 1 or num_classes < 2 or hidden < 0 or attention < 1:
            raise ValueError("in_features >= 1, num_classes >= 2, hidden >= 0 and attention >= 1 are required")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_features, self.num_classes, self.pooling = in_features, num_classes, pooling
        self.findings = tuple(findings)
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        self.register_buffer("temperature", torch.ones(()))
        width = hidden or in_features
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden:
            layers += [nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        self.project = nn.Sequential(*layers)
        pooled = width if pooling == "attention" else 2 * width
        if pooling == "attention":
            self.attention_v = nn.Linear(width, attention)
            self.attention_u = nn.Linear(width, attention)
            self.attention_w = nn.Linear(attention, 1)
        self.severity = nn.Linear(pooled, num_classes)
        self.finding_head = nn.Linear(pooled, len(self.findings)) if self.findings else None

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise inputs with the training embeddings' per-feature mean and std."""
        self.feature_mean.copy_(mean.float())
        self.feature_std.copy_(std.float().clamp_min(1e-6))

    def set_temperature(self, temperature: float) -> None:
        """Calibration: severity probabilities are ``softmax(logits / temperature)``."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature.fill_(float(temperature))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> EmbeddingScorerOutput:
        if x.ndim != 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"expected (B, N, {self.in_features}) embeddings, got {tuple(x.shape)}")
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if mask.shape != x.shape[:2] or not bool(mask.any(1).all()):
            raise ValueError("mask must be (B, N) with at least one frame per video")
        h = self.project((x.float() - self.feature_mean) / self.feature_std)
        weights = mask.float()
        attention = None
        if self.pooling == "attention":
            scores = self.attention_w(torch.tanh(self.attention_v(h)) * torch.sigmoid(self.attention_u(h))).squeeze(-1)
            attention = scores.masked_fill(~mask, float("-inf")).softmax(1)
            pooled = (attention.unsqueeze(-1) * h).sum(1)
            instance = h
        else:
            count = weights.sum(1, keepdim=True)
            mean = (h * weights.unsqueeze(-1)).sum(1) / count
            var = (((h - mean.unsqueeze(1)) ** 2) * weights.unsqueeze(-1)).sum(1) / count
            pooled = torch.cat([mean, var.clamp_min(0).sqrt()], dim=1)
            instance = torch.cat([h, torch.zeros_like(h)], dim=-1)  # a frame is a bag of one: no spread
        return EmbeddingScorerOutput(
            logits=self.severity(pooled),
            finding_logits=self.finding_head(pooled) if self.finding_head is not None else None,
            instance_logits=self.severity(instance),
            attention=attention,
            temperature=self.temperature.clone(),  # a snapshot: later set_temperature() must not change it
        )
