"""The paper's baseline U-Net for marker segmentation (Roy et al., TMI 2020, §IV-C).

Three encoder blocks of two 3x3 conv + ReLU, each followed by max-pooling by 2, 2 and 5; a latent block
(two 3x3 conv + ReLU) with dropout 0.5 -- the MC-dropout site; a mirrored decoder that upsamples with
nearest-neighbour interpolation by 5, 2 and 2, concatenates the encoder block's output (skip connection)
and applies two 3x3 conv + ReLU; a 1x1 convolution gives the class logits. The pooling factors multiply to
20, so a 200x260 input reaches a 10x13 latent grid; other sizes are padded to a multiple of 20.

The paper does not list channel widths; ``widths`` / ``latent_width`` are options (defaults 32-64-128 and
256, a common U-Net progression).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .segmentation import NUM_SEG_CLASSES, LatentDropoutSegmenter, SegState
from .upsample_conv import SplitUpsampleConv, fold_batchnorm

__all__ = ["PAPER_POOLS", "RoyUNet"]

#: Pooling factors of the three encoder blocks.
PAPER_POOLS: tuple[int, ...] = (2, 2, 5)


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
    )  # fmt: skip


class RoyUNet(LatentDropoutSegmenter):
    """Baseline U-Net.

    Args:
        num_classes: output classes (5: background + markers of scores 0-3).
        widths: channels of the encoder blocks (the decoder mirrors them).
        latent_width: channels of the latent block.
        pools: max-pool factor after each encoder block (paper: 2, 2, 5).
        latent_dropout: dropout probability in the latent block (paper: 0.5).

    ``forward(x (B, 1, H, W) in [-1, 1]) -> logits (B, num_classes, H, W)``.

    Raises:
        ValueError: on mismatched ``widths`` / ``pools``, non-positive sizes or a bad dropout.
    """

    def __init__(
        self,
        num_classes: int = NUM_SEG_CLASSES,
        *,
        widths: Sequence[int] = (32, 64, 128),
        latent_width: int = 256,
        pools: Sequence[int] = PAPER_POOLS,
        latent_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        widths, pools = tuple(int(w) for w in widths), tuple(int(p) for p in pools)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not widths or len(widths) != len(pools):
            raise ValueError(f"widths {widths} and pools {pools} must be non-empty and of equal length")
        if min(widths) < 1 or latent_width < 1 or min(pools) < 1:
            raise ValueError("widths, latent_width and pools must be positive")
        if not 0.0 <= latent_dropout < 1.0:
            raise ValueError(f"latent_dropout must be in [0, 1), got {latent_dropout}")
        self.num_classes = num_classes
        self.pools = pools
        self.latent_dropout_p = float(latent_dropout)
        self.input_multiple = math.prod(pools)
        chans = (1, *widths)
        self.down = nn.ModuleList(_double_conv(chans[i], chans[i + 1]) for i in range(len(widths)))
        self.latent = _double_conv(widths[-1], latent_width)
        ups: list[nn.Module] = []
        below = latent_width
        for w in reversed(widths):
            ups.append(_double_conv(below + w, w))
            below = w
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def encode(self, x: torch.Tensor) -> SegState:
        skips = []
        for block, pool in zip(self.down, self.pools, strict=True):
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, pool)
        return SegState(latent=self.latent(x), context=skips)

    def decode(self, state: SegState, *, stochastic: bool) -> torch.Tensor:
        z = self.latent_dropout(state.latent, stochastic)
        for block, skip, pool in zip(self.up, reversed(state.context), reversed(self.pools), strict=True):
            z = F.interpolate(z, scale_factor=pool, mode="nearest")
            z = block(torch.cat([z, skip], 1))
        return self.head(z)

    def latent_decoder(self, state: SegState) -> Callable[[torch.Tensor], torch.Tensor]:
        """The decoder with each block's first convolution split (see :mod:`ml.models.upsample_conv`): the
        skip terms are computed once, the upsampled latent goes through one transposed convolution."""
        steps: list[tuple[SplitUpsampleConv, nn.Conv2d]] = []
        z_channels = state.latent.shape[1]
        for block, skip, pool in zip(self.up, reversed(state.context), reversed(self.pools), strict=True):
            first, second = [m for m in block.modules() if isinstance(m, nn.Conv2d)]  # the double conv
            weight, bias = fold_batchnorm(first)
            steps.append((SplitUpsampleConv(weight, bias, z_channels=z_channels, scale=pool, skip=skip), second))
            z_channels = first.out_channels

        def run(z: torch.Tensor) -> torch.Tensor:
            for first, second in steps:
                z = F.relu(second(F.relu(first(z), inplace=True)), inplace=True)
            return self.head(z)

        return run
