"""The paper's plain CNN (Roy et al., TMI 2020, §IV-A): six conv blocks of two 3x3 conv-BN-ReLU layers.

The paper's trunk uses widths (32, 32, 64, 64, 64, 128, 128 ...) at full resolution, which runs at about
11 frames/s on a 2-core CPU. We keep its structure (six double-conv blocks, 2x2 max-pool after blocks
1-5, dropout after block 5, global average pooling, FC-ReLU-dropout-FC head) but make the first
convolution strided and halve the widths by default, which is what makes the Reg-STN reach > 50 frames/s
on CPU at 224x224.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml.scores import NUM_SCORES

__all__ = ["DEFAULT_WIDTHS", "CNNClassifier", "CNNTrunk", "ClassifierHead", "ConvBlock", "validate_frames"]

#: Default channel widths of the six blocks (the paper uses 32, 64, 64, 64, 128, 128).
DEFAULT_WIDTHS: tuple[int, ...] = (16, 32, 32, 32, 64, 64)

#: Smallest accepted input side (pixels).
MIN_SIDE = 32


def validate_frames(x: torch.Tensor, in_channels: int = 1, min_side: int = MIN_SIDE) -> None:
    """Check that ``x`` is a ``(B, in_channels, H, W)`` floating tensor with ``H, W >= min_side``.

    Raises:
        ValueError: on a wrong number of dimensions / channels, a too-small frame or an empty batch.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"expected frames of shape (B, {in_channels}, H, W), got {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"expected {in_channels} input channel(s), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("empty batch")
    if x.shape[-2] < min_side or x.shape[-1] < min_side:
        raise ValueError(f"frames must be at least {min_side}x{min_side} pixels, got {tuple(x.shape[-2:])}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor in [-1, 1], got dtype {x.dtype}")


class ConvBlock(nn.Sequential):
    """Two 3x3 conv-BN-ReLU layers, optionally followed by 2x2 max-pooling and dropout.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H', W')`` where ``H' = ceil(H / stride / 2)``
    when ``pool`` else ``ceil(H / stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        pool: bool = True,
        dropout: float = 0.0,
    ) -> None:
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got {in_channels}, {out_channels}")
        if stride not in (1, 2, 4):
            raise ValueError(f"stride must be 1, 2 or 4, got {stride}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if pool:
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class CNNTrunk(nn.Module):
    """Feature extractor: six :class:`ConvBlock` s, pooling after the first five, dropout after the fifth.

    Args:
        in_channels: input channels (1 for grayscale ultrasound).
        widths: output channels of the six blocks.
        stem_stride: stride of the very first convolution (2 by default; the paper uses 1).
        dropout: dropout after block 5 (paper: 0.3).

    Shapes: ``(B, in_channels, H, W) -> (B, widths[-1], ~H / (32 * stem_stride), ~W / (32 * stem_stride))``
    (at least 1x1 thanks to ceil-mode pooling).

    Raises:
        ValueError: if ``widths`` does not have six positive entries or other arguments are invalid.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        *,
        stem_stride: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 6 or min(widths) < 1:
            raise ValueError(f"widths must be six positive ints, got {widths}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels
        self.out_channels = widths[-1]
        blocks = []
        prev = in_channels
        for i, w in enumerate(widths):
            blocks.append(
                ConvBlock(
                    prev,
                    w,
                    stride=stem_stride if i == 0 else 1,
                    pool=i < 5,
                    dropout=dropout if i == 4 else 0.0,
                )
            )
            prev = w
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_out, h, w)`` feature map."""
        return self.blocks(x)


class ClassifierHead(nn.Module):
    """Global average pooling, FC-ReLU-dropout, FC to ``num_classes`` logits.

    Shapes: ``(B, in_features, h, w) -> (B, num_classes)``.
    """

    def __init__(
        self, in_features: int, num_classes: int, *, hidden: int = 128, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if in_features < 1 or hidden < 1:
            raise ValueError(f"in_features and hidden must be >= 1, got {in_features}, {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(features))


class CNNClassifier(nn.Module):
    """The paper's Φcnn: :class:`CNNTrunk` + :class:`ClassifierHead`.

    Shapes: ``(B, in_channels, H, W) -> (B, num_classes)`` logits.
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        in_channels: int = 1,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        stem_stride: int = 2,
        dropout: float = 0.3,
        head_dropout: float = 0.5,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.trunk = CNNTrunk(in_channels, widths, stem_stride=stem_stride, dropout=dropout)
        self.head = ClassifierHead(
            self.trunk.out_channels,
            num_classes,
            hidden=hidden or 2 * self.trunk.out_channels,
            dropout=head_dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
