"""CNN-LSTM video scorers: a frame feature extractor followed by an LSTM over windows of consecutive frames.

* :class:`DastiderCNNLSTM` (Dastider et al., Comput. Biol. Med. 2021): per-frame scores. Each frame goes
  through a DenseNet-201 trunk and through a convolutional autoencoder whose latent map feeds a
  separable-convolution branch; the two feature vectors are fused, and an LSTM over the window predicts
  the 4 severity scores of every frame. The autoencoder's reconstruction is returned in training mode
  (an auxiliary loss, :class:`ml.losses.SequenceLoss`).
* :class:`XceptionLSTM`: one score per window (video): an Xception-style trunk, an LSTM of 512 units with
  dropout 0.4 on its inputs (Keras' ``LSTM(512, dropout=0.4)``), two dense layers of 1024 units and the
  classifier. A video's score is the mean of its windows' softmax.

Input: ``(B, T, 1, H, W)`` windows of ``T`` frames in ``[-1, 1]``. Output: :class:`SequenceScorerOutput`.
Published layer sizes are the defaults; every size is a constructor option so tests run tiny versions on
CPU. Weights are random (``weights=None``): nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ml.scores import NUM_SCORES

from .encoders import PretrainedEncoder

__all__ = [
    "DENSENET201_BLOCKS",
    "DastiderCNNLSTM",
    "SeparableConv2d",
    "SequenceScorerOutput",
    "XceptionLSTM",
    "XceptionTrunk",
    "validate_windows",
]

#: torchvision's DenseNet-201 configuration (growth rate, dense blocks, stem width).
DENSENET201_GROWTH, DENSENET201_BLOCKS, DENSENET201_STEM = 32, (6, 12, 48, 32), 64


def validate_windows(x: torch.Tensor, min_side: int = 32) -> None:
    """Check ``x`` is a floating ``(B, T, 1, H, W)`` batch of windows.

    Raises:
        ValueError: otherwise.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[2] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected windows of shape (B, T, 1, H, W), got {shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("empty batch or window")
    if min(x.shape[-2:]) < min_side:
        raise ValueError(f"frames must be at least {min_side}x{min_side} pixels, got {tuple(x.shape[-2:])}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor in [-1, 1], got dtype {x.dtype}")


@dataclass
class SequenceScorerOutput:
    """What a CNN-LSTM returns for ``B`` windows of ``T`` frames.

    Attributes:
        logits: ``(B, T, C)`` per-frame scores (``per_frame``) or ``(B, C)`` one score per window.
        per_frame: which of the two.
        reconstruction: ``(B, T, 1, H, W)`` autoencoder output in training mode (Dastider), else ``None``.
    """

    logits: torch.Tensor
    per_frame: bool
    reconstruction: torch.Tensor | None = None

    def probs(self) -> torch.Tensor:
        """Softmax over classes (float32), same leading shape as :attr:`logits`."""
        return torch.softmax(self.logits.float(), dim=-1)


class SeparableConv2d(nn.Sequential):
    """Depthwise 3x3 convolution then pointwise 1x1 (no activation in between, as in Xception)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
        )


def _check_positive(name: str, values: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(v) for v in values)
    if not out or min(out) < 1:
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {list(values)}")
    return out


def _check_head(num_classes: int, lstm_hidden: int, lstm_layers: int, dropout: float) -> None:
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if lstm_hidden < 1 or lstm_layers < 1:
        raise ValueError(f"lstm_hidden and lstm_layers must be positive, got {lstm_hidden}, {lstm_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


# ----------------------------------------------------------------------------------------------------------
# Dastider et al.: DenseNet-201 + autoencoder / separable-convolution branch, LSTM, per-frame scores


class DastiderCNNLSTM(nn.Module):
    """Autoencoder + separable-convolution branches fused with DenseNet-201, then an LSTM (per-frame scores).

    Args:
        num_classes: severity scores (4).
        growth_rate, block_config, num_init_features: the torchvision DenseNet (defaults: DenseNet-201).
        ae_channels: widths of the autoencoder's strided encoder convolutions (mirrored by the decoder).
        separable_channels: widths of the separable-convolution blocks on the autoencoder's latent map.
        fusion_dim: width of the fused frame feature.
        lstm_hidden, lstm_layers: the LSTM.
        dropout: before the fusion layer and before the classifier.

    Raises:
        ValueError: on non-positive sizes or a bad dropout.
    """

    per_frame = True

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        growth_rate: int = DENSENET201_GROWTH,
        block_config: Sequence[int] = DENSENET201_BLOCKS,
        num_init_features: int = DENSENET201_STEM,
        ae_channels: Sequence[int] = (32, 64, 128),
        separable_channels: Sequence[int] = (256, 512),
        fusion_dim: int = 512,
        lstm_hidden: int = 256,
        lstm_layers: int = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        import torchvision  # lazily: importing torchvision costs seconds

        _check_head(num_classes, lstm_hidden, lstm_layers, dropout)
        ae = _check_positive("ae_channels", ae_channels)
        sep = _check_positive("separable_channels", separable_channels)
        blocks = _check_positive("block_config", block_config)
        if growth_rate < 1 or num_init_features < 1 or fusion_dim < 1:
            raise ValueError("growth_rate, num_init_features and fusion_dim must be positive")
        self.num_classes = num_classes
        dense = torchvision.models.DenseNet(
            growth_rate=growth_rate, block_config=blocks, num_init_features=num_init_features
        )
        dense.features.conv0 = nn.Conv2d(1, num_init_features, 7, stride=2, padding=3, bias=False)
        self.densenet = dense.features  # ends with norm5; ReLU + pooling below, as torchvision's forward
        dense_dim = dense.classifier.in_features

        enc: list[nn.Module] = []
        cin = 1
        for c in ae:
            enc += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            cin = c
        self.ae_encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        widths = (*reversed(ae[:-1]), 1)  # mirrored; the last layer reconstructs the frame in [-1, 1]
        for i, out in enumerate(widths):
            dec.append(nn.ConvTranspose2d(cin, out, 4, stride=2, padding=1))
            dec += [nn.Tanh()] if i == len(widths) - 1 else [nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            cin = out
        self.ae_decoder = nn.Sequential(*dec)
        branch: list[nn.Module] = []
        cin = ae[-1]
        for c in sep:
            branch += [SeparableConv2d(cin, c), nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            cin = c
        self.separable = nn.Sequential(*branch)
        self.fuse = nn.Sequential(nn.Dropout(dropout), nn.Linear(dense_dim + sep[-1], fusion_dim), nn.ReLU(inplace=True))
        self.lstm = nn.LSTM(fusion_dim, lstm_hidden, num_layers=lstm_layers, batch_first=True)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(lstm_hidden, num_classes))
        self._ae_multiple = 2 ** len(ae)

    def forward(self, x: torch.Tensor) -> SequenceScorerOutput:
        """``(B, T, 1, H, W) -> logits (B, T, C)`` (+ reconstruction in training mode).

        Raises:
            ValueError: on a badly shaped input.
        """
        validate_windows(x)
        b, t = x.shape[:2]
        frames = x.reshape(b * t, *x.shape[2:])
        dense = torch.relu(self.densenet(frames)).mean((2, 3))
        latent = self.ae_encoder(frames)
        sep = self.separable(latent).mean((2, 3))
        feats = self.fuse(torch.cat([dense, sep], 1)).view(b, t, -1)
        seq, _ = self.lstm(feats)
        logits = self.classifier(seq)
        recon = None
        if self.training:
            h, w = x.shape[-2:]
            recon = self.ae_decoder(latent)[..., :h, :w]
            if recon.shape[-2:] != (h, w):  # sides not divisible by the encoder's stride
                recon = nn.functional.interpolate(recon, size=(h, w), mode="bilinear", align_corners=False)
            recon = recon.reshape(b, t, 1, h, w)
        return SequenceScorerOutput(logits=logits, per_frame=True, reconstruction=recon)


# ----------------------------------------------------------------------------------------------------------
# Xception-style trunk + LSTM(512) + 2 x Dense(1024): one score per window


class _XBlock(nn.Module):
    """Xception block: ``reps`` x (ReLU, separable conv, BN), then a strided max-pool with a 1x1 residual."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int, *, start_with_relu: bool = True,
                 grow_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for i in range(reps):
            target = cout if (grow_first and i == 0) or (not grow_first and i == reps - 1) else c
            if i > 0 or start_with_relu:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv2d(c, target), nn.BatchNorm2d(target)]
            c = target
        if stride > 1:
            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
        self.body = nn.Sequential(*layers)
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if cin != cout or stride != 1
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class XceptionTrunk(nn.Module):
    """Xception (Chollet 2017): entry flow, ``middle_blocks`` residual blocks, exit flow, global pooling.

    Defaults are the published widths (stem 32/64, entry 128/256/728, 8 middle blocks, exit 1024 then
    separable convolutions of 1536 and 2048). ``out_dim`` is the last exit width.
    """

    def __init__(
        self,
        *,
        stem_channels: Sequence[int] = (32, 64),
        entry_channels: Sequence[int] = (128, 256, 728),
        middle_blocks: int = 8,
        exit_channels: Sequence[int] = (1024, 1536, 2048),
    ) -> None:
        super().__init__()
        stem = _check_positive("stem_channels", stem_channels)
        entry = _check_positive("entry_channels", entry_channels)
        exits = _check_positive("exit_channels", exit_channels)
        if len(stem) != 2 or len(exits) != 3 or middle_blocks < 0:
            raise ValueError("stem_channels needs 2 widths, exit_channels 3, middle_blocks >= 0")
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem[0], 3, stride=2, bias=False), nn.BatchNorm2d(stem[0]), nn.ReLU(inplace=True),
            nn.Conv2d(stem[0], stem[1], 3, bias=False), nn.BatchNorm2d(stem[1]), nn.ReLU(inplace=True),
        )  # fmt: skip
        blocks: list[nn.Module] = []
        c = stem[1]
        for i, e in enumerate(entry):
            blocks.append(_XBlock(c, e, 2, 2, start_with_relu=i > 0))
            c = e
        blocks += [_XBlock(c, c, 3, 1) for _ in range(middle_blocks)]
        blocks.append(_XBlock(c, exits[0], 2, 2, grow_first=False))
        self.blocks = nn.Sequential(*blocks)
        self.exit = nn.Sequential(
            SeparableConv2d(exits[0], exits[1]), nn.BatchNorm2d(exits[1]), nn.ReLU(inplace=True),
            SeparableConv2d(exits[1], exits[2]), nn.BatchNorm2d(exits[2]), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.out_dim = exits[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W) -> (N, out_dim)``."""
        return self.exit(self.blocks(self.stem(x))).mean((2, 3))


class XceptionLSTM(nn.Module):
    """Xception-style trunk + LSTM + two dense layers: one score per window.

    Args:
        num_classes: severity scores (4).
        stem_channels, entry_channels, middle_blocks, exit_channels: :class:`XceptionTrunk`.
        lstm_hidden: LSTM units (published: 512).
        lstm_dropout: dropout on the LSTM's inputs (published: 0.4).
        dense: widths of the dense layers after the LSTM (published: 1024, 1024).
        lstm_layers: stacked LSTM layers.
        encoder, pretrained: extract frame features with a pretrained encoder instead of the Xception
            trunk (:mod:`ml.models.encoders`, e.g. ``encoder="efficientnet_lite0"``).
        freeze_encoder: with ``encoder``, keep it frozen (no gradients, batch-norm statistics fixed): the
            CPU-friendly choice; only the LSTM and the head train.

    Raises:
        ValueError: on non-positive sizes or a bad dropout.
    """

    per_frame = False

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        stem_channels: Sequence[int] = (32, 64),
        entry_channels: Sequence[int] = (128, 256, 728),
        middle_blocks: int = 8,
        exit_channels: Sequence[int] = (1024, 1536, 2048),
        lstm_hidden: int = 512,
        lstm_dropout: float = 0.4,
        dense: Sequence[int] = (1024, 1024),
        lstm_layers: int = 1,
        encoder: str | None = None,
        pretrained: str | None = "imagenet",
        freeze_encoder: bool = True,
    ) -> None:
        super().__init__()
        _check_head(num_classes, lstm_hidden, lstm_layers, lstm_dropout)
        widths = _check_positive("dense", dense)
        self.num_classes = num_classes
        self.frozen_trunk = encoder is not None and freeze_encoder
        trunk: nn.Module
        if encoder is not None:
            trunk = PretrainedEncoder(encoder, pretrained)
            features = trunk.out_features
            trunk.requires_grad_(not freeze_encoder)
        else:
            trunk = XceptionTrunk(stem_channels=stem_channels, entry_channels=entry_channels,
                                  middle_blocks=middle_blocks, exit_channels=exit_channels)
            features = trunk.out_dim
        self.trunk = trunk
        self.input_dropout = nn.Dropout(lstm_dropout)
        self.lstm = nn.LSTM(features, lstm_hidden, num_layers=lstm_layers, batch_first=True)
        head: list[nn.Module] = []
        cin = lstm_hidden
        for w in widths:
            head += [nn.Linear(cin, w), nn.ReLU(inplace=True)]
            cin = w
        head.append(nn.Linear(cin, num_classes))
        self.head = nn.Sequential(*head)

    def train(self, mode: bool = True) -> XceptionLSTM:
        """As ``nn.Module.train``, but a frozen pretrained trunk stays in eval mode (fixed statistics)."""
        super().train(mode)
        if self.frozen_trunk:
            self.trunk.eval()
        return self

    def forward(self, x: torch.Tensor) -> SequenceScorerOutput:
        """``(B, T, 1, H, W) -> logits (B, C)`` from the LSTM's last state.

        Raises:
            ValueError: on a badly shaped input.
        """
        validate_windows(x)
        b, t = x.shape[:2]
        return self.forward_features(self.trunk(x.reshape(b * t, *x.shape[2:])).view(b, t, -1))

    def forward_features(self, feats: torch.Tensor) -> SequenceScorerOutput:
        """``(B, T, F)`` frame features (the trunk's output) -> logits: with a frozen pretrained trunk the LSTM
        and head can train on cached frame embeddings (:mod:`ml.embeddings`), the same function as
        :meth:`forward` on the frames."""
        seq, _ = self.lstm(self.input_dropout(feats))
        return SequenceScorerOutput(logits=self.head(seq[:, -1]), per_frame=False)
