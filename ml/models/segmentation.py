"""Marker segmentation (Roy et al., TMI 2020, §IV-C): U-Net++ and DeepLabV3+, their ensemble, MC dropout.

Every segmenter here is a :class:`LatentDropoutSegmenter`: its forward pass is split into a deterministic
``encode`` (everything before the latent dropout) and a stochastic ``decode`` (the latent dropout and
everything after it). MC-dropout sampling therefore runs the encoder once and only the decoder ``N``
times, which is what makes 40 samples of a three-model ensemble affordable; batch norm stays in eval mode
while dropout samples (the dropout is applied functionally, not by switching the module to training).
For inference each segmenter also offers :meth:`~LatentDropoutSegmenter.latent_decoder`, an exact
re-sequencing of its decoder that computes everything not depending on the latent once per frame (see
:mod:`ml.models.upsample_conv`).

Classes (``num_classes=5``): 0 background, ``s + 1`` the marker of LUS score ``s`` (as in
:data:`ml.phantom.MARKER_CLASSES` and the platform's ``SegmentationClass``).

* :class:`SMPUnetPlusPlus` -- segmentation-models-pytorch U-Net++ (ResNet-50 encoder by default,
  ``encoder_weights=None``) with dropout on the deepest encoder feature map. Only the top row of the
  nested decoder (``x_0_*``) depends on that map, so the other nodes are part of ``encode``.
* :class:`SMPDeepLabV3Plus` -- smp DeepLabV3+ (ResNet-50, output stride 16); its latent dropout is the
  ASPP's own dropout (0.5), which smp places after the ASPP projection.
* Both take ``encoder="efficientnet_lite0", pretrained="imagenet"`` (:mod:`ml.models.encoders`, offline).
* :class:`SegmentationEnsemble` -- unweighted mean of the members' softmax; :meth:`~SegmentationEnsemble.predict`
  adds the MC-dropout uncertainty.

Inputs are ``(B, 1, H, W)`` in ``[-1, 1]`` of any size: they are padded (with -1, i.e. black, like the
letterbox) to the multiple the architecture needs and the logits are cropped back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import ImageNetInput, load_smp_encoder, smp_encoder_name
from .upsample_conv import SplitUpsampleConv, add_per_frame, fold_batchnorm

__all__ = [
    "NUM_SEG_CLASSES",
    "BoundDecoder",
    "LatentDropoutSegmenter",
    "SMPDeepLabV3Plus",
    "SMPUnetPlusPlus",
    "SegState",
    "SegmentationEnsemble",
    "SegmentationResult",
    "validate_seg_input",
]

#: Background plus the markers of scores 0-3.
NUM_SEG_CLASSES = 5


def validate_seg_input(x: torch.Tensor, min_side: int = 16) -> None:
    """Check ``x`` is a floating ``(B, 1, H, W)`` batch with ``H, W >= min_side``.

    Raises:
        ValueError: otherwise.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected frames of shape (B, 1, H, W), got {shape}")
    if x.shape[0] == 0:
        raise ValueError("empty batch")
    if min(x.shape[-2:]) < min_side:
        raise ValueError(f"frames must be at least {min_side}x{min_side} pixels, got {tuple(x.shape[-2:])}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor in [-1, 1], got dtype {x.dtype}")


@dataclass
class SegState:
    """What ``encode`` computed: the latent tensor (dropout is applied to it) and deterministic context
    tensors the decoder reuses (skip connections, cached decoder nodes)."""

    latent: torch.Tensor
    context: list[torch.Tensor] = field(default_factory=list)

    def repeat(self, n: int) -> SegState:
        """Each batch element repeated ``n`` times (consecutively): ``(B, ...) -> (B * n, ...)``."""
        if n == 1:
            return self
        return SegState(self.latent.repeat_interleave(n, 0), [c.repeat_interleave(n, 0) for c in self.context])


class LatentDropoutSegmenter(nn.Module):
    """Base class: ``forward(x) = crop(decode(encode(pad(x)), stochastic=self.training))``.

    Subclasses set ``num_classes``, ``input_multiple`` and ``latent_dropout_p`` and implement
    :meth:`encode` / :meth:`decode` on padded input.
    """

    num_classes: int = NUM_SEG_CLASSES
    input_multiple: int = 1
    latent_dropout_p: float = 0.5

    def encode(self, x: torch.Tensor) -> SegState:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, state: SegState, *, stochastic: bool) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def latent_dropout(self, z: torch.Tensor, stochastic: bool) -> torch.Tensor:
        return F.dropout(z, self.latent_dropout_p, training=stochastic) if self.latent_dropout_p > 0 else z

    def pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Pad bottom/right with -1 (black) to a multiple of ``input_multiple``; returns the original size."""
        h, w = x.shape[-2:]
        m = self.input_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), value=-1.0)
        return x, (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` in [-1, 1] -> logits ``(B, num_classes, H, W)``.

        Raises:
            ValueError: on a badly shaped input.
        """
        validate_seg_input(x)
        xp, (h, w) = self.pad(x)
        logits = self.decode(self.encode(xp), stochastic=self.training)
        return logits[..., :h, :w]

    def latent_decoder(self, state: SegState) -> Callable[[torch.Tensor], torch.Tensor]:
        """The decoder bound to ``state``'s batch, as a function of the latent *after* dropout: rows
        ``b * k .. b * k + k - 1`` of its input belong to element ``b`` of the encoded batch; returns padded
        logits. For inference (no autograd needed); subclasses return an exact, faster equivalent."""
        batch = state.latent.shape[0]

        def run(z: torch.Tensor) -> torch.Tensor:
            k = z.shape[0] // batch
            return self.decode(SegState(z, [c.repeat_interleave(k, 0) for c in state.context]), stochastic=False)

        return run

    def bind(self, x: torch.Tensor) -> BoundDecoder:
        """Encode ``x (B, 1, H, W)`` once; the result decodes it deterministically or with MC dropout.

        Raises:
            ValueError: on a badly shaped input.
        """
        validate_seg_input(x)
        xp, size = self.pad(x)
        state = self.encode(xp)
        return BoundDecoder(self.latent_decoder(state), state.latent, size, self.latent_dropout_p)


@dataclass
class BoundDecoder:
    """A segmenter's decoder bound to one encoded batch (see :meth:`LatentDropoutSegmenter.bind`)."""

    decode: Callable[[torch.Tensor], torch.Tensor]
    latent: torch.Tensor
    size: tuple[int, int]
    dropout_p: float

    def logits(self) -> torch.Tensor:
        """``(B, C, H, W)`` logits with dropout off."""
        return self._crop(self.decode(self.latent))

    def samples(self, k: int) -> torch.Tensor:
        """``(B * k, C, H, W)`` logits of ``k`` MC-dropout samples per frame (rows ``b * k .. b * k + k - 1``
        belong to frame ``b``). The dropout mask is drawn on a contiguous (NCHW) latent, so a seed gives the
        same samples whatever memory format the model runs in."""
        z = self.latent.repeat_interleave(k, 0).contiguous()
        if self.dropout_p > 0:
            z = F.dropout(z, self.dropout_p, training=True)
        return self._crop(self.decode(z))

    def _crop(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[..., : self.size[0], : self.size[1]]


def _smp() -> Any:
    import segmentation_models_pytorch as smp  # lazily: pulls in timm and huggingface_hub

    return smp


def _smp_encoder(encoder_name: str, encoder: str | None, pretrained: str | None) -> tuple[str, int, nn.Module]:
    """(smp name, input channels, input module): grayscale, or three ImageNet-normalised channels."""
    if encoder is None and pretrained is not None:
        raise ValueError("pretrained needs encoder (e.g. encoder='efficientnet_lite0')")
    if encoder is None:
        return encoder_name, 1, nn.Identity()
    return smp_encoder_name(encoder, pretrained), 3, ImageNetInput()


def _check_common(num_classes: int, latent_dropout: float) -> None:
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not 0.0 <= latent_dropout < 1.0:
        raise ValueError(f"latent_dropout must be in [0, 1), got {latent_dropout}")


class SMPUnetPlusPlus(LatentDropoutSegmenter):
    """U-Net++ (smp) with a latent dropout on the deepest encoder features.

    Args:
        num_classes: output classes (5: background + 4 markers).
        encoder_name: any smp encoder (``"resnet50"`` as in the paper; ``"resnet18"`` for small tests).
        encoder_depth: 3-5 encoder stages.
        decoder_channels: one width per decoder stage (smp default ``(256, 128, 64, 32, 16)``).
        latent_dropout: dropout probability on the deepest feature map (MC-dropout site).
        encoder, pretrained: a pretrained encoder instead of ``encoder_name`` (``"efficientnet_lite0"``,
            ``"imagenet"``: smp's ``tu-efficientnet_lite0``, offline weights, three ImageNet-normalised channels).

    Raises:
        ValueError: on bad arguments (smp's own errors for unknown encoders pass through).
    """

    def __init__(
        self,
        num_classes: int = NUM_SEG_CLASSES,
        *,
        encoder_name: str = "resnet50",
        encoder_depth: int = 5,
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
        latent_dropout: float = 0.5,
        encoder: str | None = None,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        _check_common(num_classes, latent_dropout)
        if len(decoder_channels) != encoder_depth:
            raise ValueError(f"decoder_channels needs {encoder_depth} widths, got {list(decoder_channels)}")
        self.num_classes = num_classes
        self.latent_dropout_p = float(latent_dropout)
        name, channels, self.input = _smp_encoder(encoder_name, encoder, pretrained)
        self.net = _smp().UnetPlusPlus(
            encoder_name=name, encoder_weights=None, encoder_depth=encoder_depth,
            decoder_channels=tuple(decoder_channels), in_channels=channels, classes=num_classes,
        )  # fmt: skip
        load_smp_encoder(self.net.encoder, encoder, pretrained)
        self.input_multiple = int(self.net.encoder.output_stride)

    def encode(self, x: torch.Tensor) -> SegState:
        dec = self.net.decoder
        feats = self.net.encoder(self.input(x))[1:][::-1]  # as smp's decoder: drop the input, deepest first
        depth = dec.depth
        split = self._splittable()

        def node(block: nn.Module, z: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
            return _folded_block(block, z_channels=z.shape[1], skip=skip)(z) if split else block(z, skip)

        dense: dict[tuple[int, int], torch.Tensor] = {}
        # every node x_d_l with d >= 1 is independent of the deepest map: compute them once, in smp's order
        for layer in range(depth):
            for d in range(1, depth - layer):
                last = d + layer
                block = dec.blocks[f"x_{d}_{last}"]
                if layer == 0:
                    dense[(d, last)] = node(block, feats[d], feats[d + 1])
                else:
                    skip = torch.cat([dense[(i, last)] for i in range(d + 1, last + 1)] + [feats[last + 1]], 1)
                    dense[(d, last)] = node(block, dense[(d, last - 1)], skip)
        # the top row's skip inputs, in order x_0_0 .. x_0_{depth-1}
        skips = [feats[1]] + [
            torch.cat([dense[(i, last)] for i in range(1, last + 1)] + [feats[last + 1]], 1)
            for last in range(1, depth)
        ]
        return SegState(latent=feats[0], context=skips)

    def decode(self, state: SegState, *, stochastic: bool) -> torch.Tensor:
        dec = self.net.decoder
        z = self.latent_dropout(state.latent, stochastic)
        for last, skip in enumerate(state.context):
            z = dec.blocks[f"x_0_{last}"](z, skip)
        z = dec.blocks[f"x_0_{dec.depth}"](z)
        return self.net.segmentation_head(z)

    def latent_decoder(self, state: SegState) -> Callable[[torch.Tensor], torch.Tensor]:
        """The top row with batch norm folded and each block's first convolution split (see
        :mod:`ml.models.upsample_conv`): the skip terms, most of the input channels, are computed once."""
        if not self._splittable():
            return super().latent_decoder(state)
        dec = self.net.decoder
        steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
        z_channels = state.latent.shape[1]
        for last, skip in enumerate([*state.context, None]):
            block = dec.blocks[f"x_0_{last}"]
            steps.append(_folded_block(block, z_channels=z_channels, skip=skip))
            z_channels = block.conv2[0].out_channels

        def run(z: torch.Tensor) -> torch.Tensor:
            for step in steps:
                z = step(z)
            return self.net.segmentation_head(z)

        return run

    def _splittable(self) -> bool:
        """Inference (eval mode, no autograd) through decoder blocks :func:`_folded_block` knows."""
        blocks = self.net.decoder.blocks.values()
        return not self.training and not torch.is_grad_enabled() and all(_plain_block(b) for b in blocks)


def _folded_block(block: Any, *, z_channels: int, skip: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """An smp U-Net++ decoder block bound to its skip input: batch norm folded, the first convolution split."""
    w1, b1 = fold_batchnorm(block.conv1[0], block.conv1[1])
    w2, b2 = fold_batchnorm(block.conv2[0], block.conv2[1])
    first = SplitUpsampleConv(w1, b1, z_channels=z_channels, scale=2, skip=skip)
    return lambda z: F.relu(F.conv2d(F.relu(first(z), inplace=True), w2, b2, padding=1), inplace=True)


def _plain_block(block: Any) -> bool:
    """An smp decoder block this module knows how to split: nearest x2, conv-BN-ReLU twice, no attention
    (other blocks decode through the generic path)."""
    return (getattr(block, "interpolation_mode", None) == "nearest" and not getattr(block, "is_empty", True)
            and isinstance(block.attention1.attention, nn.Identity)
            and isinstance(block.attention2.attention, nn.Identity)
            and all(isinstance(c[0], nn.Conv2d) and c[0].kernel_size == (3, 3) and c[0].padding == (1, 1)
                    and isinstance(c[1], nn.BatchNorm2d | nn.Identity) and isinstance(c[2], nn.ReLU)
                    for c in (block.conv1, block.conv2)))


class SMPDeepLabV3Plus(LatentDropoutSegmenter):
    """DeepLabV3+ (smp); the ASPP's dropout is the latent (MC-dropout) site.

    Args:
        num_classes: output classes.
        encoder_name: smp encoder (``"resnet50"`` as in the paper).
        encoder_output_stride: 8 or 16.
        decoder_channels: ASPP / decoder width (smp default 256).
        atrous_rates: ASPP dilation rates.
        latent_dropout: dropout probability after the ASPP projection (smp default 0.5).
        encoder, pretrained: a pretrained encoder instead of ``encoder_name``, as for :class:`SMPUnetPlusPlus`.

    Raises:
        ValueError: on bad arguments.
    """

    def __init__(
        self,
        num_classes: int = NUM_SEG_CLASSES,
        *,
        encoder_name: str = "resnet50",
        encoder_output_stride: int = 16,
        decoder_channels: int = 256,
        atrous_rates: Sequence[int] = (12, 24, 36),
        latent_dropout: float = 0.5,
        encoder: str | None = None,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        _check_common(num_classes, latent_dropout)
        self.num_classes = num_classes
        self.latent_dropout_p = float(latent_dropout)
        name, channels, self.input = _smp_encoder(encoder_name, encoder, pretrained)
        self.net = _smp().DeepLabV3Plus(
            encoder_name=name, encoder_weights=None, encoder_output_stride=encoder_output_stride,
            decoder_channels=decoder_channels, decoder_atrous_rates=tuple(atrous_rates),
            decoder_aspp_dropout=latent_dropout, in_channels=channels, classes=num_classes,
        )  # fmt: skip
        load_smp_encoder(self.net.encoder, encoder, pretrained)
        # the high-resolution branch is divided by 4 and the deepest by the output stride; the encoder's
        # stride-32 stage must still divide evenly before dilation takes over
        self.input_multiple = max(int(self.net.encoder.output_stride), 16)

    def encode(self, x: torch.Tensor) -> SegState:
        dec = self.net.decoder
        feats = self.net.encoder(self.input(x))
        aspp = dec.aspp[0]
        pooled = torch.cat([conv(feats[-1]) for conv in aspp.convs], 1)
        latent = aspp.project[:-1](pooled)  # projection without its dropout
        return SegState(latent=latent, context=[dec.block1(feats[2])])

    def decode(self, state: SegState, *, stochastic: bool) -> torch.Tensor:
        dec = self.net.decoder
        z = dec.aspp[1:](self.latent_dropout(state.latent, stochastic))
        z = dec.block2(torch.cat([dec.up(z), state.context[0]], 1))
        return self.net.segmentation_head(z)

    def latent_decoder(self, state: SegState) -> Callable[[torch.Tensor], torch.Tensor]:
        """``block2`` (depthwise 3x3, pointwise 1x1, batch norm) acts on ``cat([up(aspp(z)), high_res])``;
        depthwise works per channel and pointwise is linear, so the high-resolution branch's share is
        computed once and the per-sample concatenation disappears."""
        dec = self.net.decoder
        separable, norm = dec.block2[0], dec.block2[1]
        depthwise, pointwise = separable[0], separable[1]
        if self.training or torch.is_grad_enabled() or not isinstance(norm, nn.BatchNorm2d):
            return super().latent_decoder(state)
        high_res = state.context[0]
        z_channels = pointwise.in_channels - high_res.shape[1]
        conv = {"padding": depthwise.padding, "dilation": depthwise.dilation}
        weight, bias = fold_batchnorm(pointwise, norm)
        base = F.conv2d(F.conv2d(high_res, depthwise.weight[z_channels:], groups=high_res.shape[1], **conv),
                        weight[:, z_channels:], bias)
        z_depthwise, z_pointwise = depthwise.weight[:z_channels], weight[:, :z_channels]

        def run(z: torch.Tensor) -> torch.Tensor:
            z = dec.up(dec.aspp[1:](z))
            z = F.conv2d(F.conv2d(z, z_depthwise, groups=z_channels, **conv), z_pointwise)
            return self.net.segmentation_head(F.relu(add_per_frame(z, base), inplace=True))

        return run


@dataclass
class SegmentationResult:
    """Ensemble inference for ``B`` frames.

    Attributes:
        probs: ``(B, C, H, W)`` unweighted mean of the members' softmax (dropout off).
        mask: ``(B, H, W)`` int64 argmax of ``probs``.
        uncertainty: ``(B, H, W)`` MC-dropout standard deviation (see :meth:`SegmentationEnsemble.predict`),
            in ``[0, 0.5]``; ``None`` when no MC sample was drawn.
        member_probs: ``(M, B, C, H, W)`` each member's softmax (dropout off).
    """

    probs: torch.Tensor
    mask: torch.Tensor
    uncertainty: torch.Tensor | None
    member_probs: torch.Tensor


class SegmentationEnsemble(nn.Module):
    """The paper's ensemble: unweighted mean of the softmax of its members (U-Net, U-Net++, DeepLabV3+).

    Args:
        members: segmenters with the same ``num_classes``, or specs ``{"model": name, "model_kwargs": {...}}``
            built through the registry (that form is what checkpoints store).

    ``forward(x)`` returns the ensemble's *probabilities* ``(B, C, H, W)`` (not logits).

    Raises:
        ValueError: on no member, a non-segmenter member or differing class counts.
    """

    def __init__(self, members: Sequence[nn.Module | Mapping[str, Any]]) -> None:
        super().__init__()
        from . import create_model

        built: list[LatentDropoutSegmenter] = []
        for spec in members:
            m = create_model(str(spec["model"]), **dict(spec.get("model_kwargs", {}))) if isinstance(spec, Mapping) else spec
            if not isinstance(m, LatentDropoutSegmenter):
                raise ValueError(f"ensemble members must be segmenters, got {type(m).__name__}")
            built.append(m)
        if not built:
            raise ValueError("an ensemble needs at least one member")
        classes = {int(m.num_classes) for m in built}
        if len(classes) != 1:
            raise ValueError(f"members disagree on num_classes: {sorted(classes)}")
        self.members = nn.ModuleList(built)
        self.num_classes = classes.pop()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.softmax(m(x).float(), 1) for m in self.members]).mean(0)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, mc_samples: int = 40, chunk: int = 8) -> SegmentationResult:
        """Ensemble probabilities, mask and MC-dropout uncertainty of ``x (B, 1, H, W)``.

        Sample ``s`` of the ensemble is the mean over members of their softmax with the latent dropout
        active; the uncertainty is the pixel-wise standard deviation over the ``mc_samples`` samples of
        the probability of the class the (deterministic) ensemble predicts there. Each member encodes once
        and decodes through its :meth:`~LatentDropoutSegmenter.latent_decoder`, ``chunk`` samples per call;
        the members run in channels-last memory format, which oneDNN and cuDNN convolve fastest.

        Raises:
            ValueError: if ``mc_samples`` is negative or 1 (a standard deviation needs two samples).
        """
        if mc_samples < 0 or mc_samples == 1:
            raise ValueError(f"mc_samples must be 0 or >= 2, got {mc_samples}")
        was_training = self.training
        self.eval()
        self.to(memory_format=torch.channels_last)
        try:
            x = x.contiguous(memory_format=torch.channels_last)
            bound = [member.bind(x) for member in self.members]  # type: ignore[operator]
            member_probs = torch.stack([torch.softmax(b.logits().float(), 1) for b in bound])
            probs = member_probs.mean(0)
            mask = probs.argmax(1)
            uncertainty = self._mc_std(bound, mask, mc_samples, max(1, chunk)) if mc_samples else None
        finally:
            self.train(was_training)
        return SegmentationResult(probs=probs.contiguous(), mask=mask.contiguous(), uncertainty=uncertainty,
                                  member_probs=member_probs.contiguous())

    def _mc_std(self, bound: Sequence[BoundDecoder], mask: torch.Tensor, n: int, chunk: int) -> torch.Tensor:
        b = mask.shape[0]
        # probability of the predicted class, per sample: accumulate (B, S, H, W) over members
        picked = torch.zeros((b, n, *mask.shape[-2:]), dtype=torch.float32, device=mask.device)
        index = mask.unsqueeze(1)  # (B, 1, H, W)
        for decoder in bound:
            for start in range(0, n, chunk):
                k = min(chunk, n - start)
                logits = decoder.samples(k)
                p = torch.softmax(logits.float(), 1).view(b, k, self.num_classes, *logits.shape[-2:])
                chosen = p.gather(2, index.unsqueeze(1).expand(b, k, 1, *index.shape[-2:])).squeeze(2)
                picked[:, start : start + k] += chosen
        picked /= len(self.members)
        return picked.std(1, unbiased=False)
