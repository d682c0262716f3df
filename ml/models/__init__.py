"""Frame scorers (paper §IV-A and Table I baselines) and the model registry.

``MODEL_REGISTRY`` is a plain ``dict[str, ModelSpec]``; each spec records the model factory and the loss the
model trains with (``spec.loss_kwargs`` are the arguments of :class:`ml.losses.RegSTNLoss`).

=====================  ==============================================================  =====================
name                   model                                                           loss
=====================  ==============================================================  =====================
``cnn_ce``             CNN on the full frame                                           cross-entropy
``cnn_sord``           CNN on the full frame                                           SORD
``resnet18_sord``      torchvision ResNet-18, weights=None, 1-channel input            SORD
``cnn_stn_sord``       STN, one learned crop (scale+rotation+translation)              SORD
``cnn_randomcrop_sord`` CNN on a random crop (scale 0.5-0.75)                          SORD
``reg_stn``            Reg-STN, two crops, learned scale+rotation+translation          SORD + cons. + scale
``reg_stn_fixed``      Reg-STN, two crops, fixed scales 0.50 / 0.75, learned transl.   SORD + consistency
=====================  ==============================================================  =====================

Usage::

    model = create_model("reg_stn", num_classes=4)
    criterion = MODEL_REGISTRY["reg_stn"].build_loss()
    out = model(frames)                      # FrameScorerOutput
    loss = criterion(out, labels).total
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .baselines import FrameCNN, RandomCropCNN, ResNet18Scorer
from .cnn import DEFAULT_WIDTHS, ClassifierHead, CNNClassifier, CNNTrunk, ConvBlock, validate_frames
from .output import FrameScorerOutput
from .reg_stn import RegSTN, crop_size_for
from .stn import LocalisationNet, SimilarityTransformHead, crop_boxes, sample_crop, similarity_theta

__all__ = [
    "DEFAULT_WIDTHS",
    "MODEL_REGISTRY",
    "CNNClassifier",
    "CNNTrunk",
    "ClassifierHead",
    "ConvBlock",
    "FrameCNN",
    "FrameScorerOutput",
    "LocalisationNet",
    "ModelSpec",
    "RandomCropCNN",
    "RegSTN",
    "ResNet18Scorer",
    "SimilarityTransformHead",
    "create_model",
    "crop_boxes",
    "crop_size_for",
    "get_model_spec",
    "list_models",
    "sample_crop",
    "similarity_theta",
    "validate_frames",
]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes:
        name: registry key.
        factory: ``factory(**kwargs) -> nn.Module`` returning a model whose forward gives
            :class:`FrameScorerOutput`.
        loss_kwargs: keyword arguments of :class:`ml.losses.RegSTNLoss` (``classification`` is ``"ce"`` or
            ``"sord"``; ``consistency_weight``; ``scale_weight``; ``scale_priors``).
        description: one line for ``--help`` / the platform UI.
        defaults: default keyword arguments of ``factory``.
    """

    name: str
    factory: Callable[..., nn.Module]
    loss_kwargs: Mapping[str, Any]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def loss(self) -> str:
        """Classification loss name: ``"ce"`` or ``"sord"``."""
        return str(self.loss_kwargs.get("classification", "sord"))

    def build(self, **kwargs: Any) -> nn.Module:
        """Instantiate the model (``defaults`` updated with ``kwargs``)."""
        return self.factory(**{**self.defaults, **kwargs})

    def build_loss(self, **overrides: Any) -> nn.Module:
        """Instantiate the training criterion (:class:`ml.losses.RegSTNLoss`)."""
        from ml.losses.stn import RegSTNLoss

        return RegSTNLoss(**{**self.loss_kwargs, **overrides})


def _spec(name: str, factory: Callable[..., nn.Module], description: str, **loss_kwargs: Any) -> ModelSpec:
    loss_kwargs.setdefault("classification", "sord")
    loss_kwargs.setdefault("consistency_weight", 0.0)
    loss_kwargs.setdefault("scale_weight", 0.0)
    loss_kwargs.setdefault("scale_priors", None)
    return ModelSpec(name=name, factory=factory, loss_kwargs=loss_kwargs, description=description)


def _reg_stn(**kwargs: Any) -> nn.Module:
    return RegSTN(**{"scales": (0.5, 0.75), "learn_scale": True, "learn_rotation": True, **kwargs})


def _reg_stn_fixed(**kwargs: Any) -> nn.Module:
    return RegSTN(**{"scales": (0.5, 0.75), "learn_scale": False, "learn_rotation": False, **kwargs})


def _stn_single(**kwargs: Any) -> nn.Module:
    return RegSTN(**{"scales": (0.75,), "learn_scale": True, "learn_rotation": True, **kwargs})


MODEL_REGISTRY: dict[str, ModelSpec] = {
    "cnn_ce": _spec("cnn_ce", FrameCNN, "CNN on the full frame, cross-entropy", classification="ce"),
    "cnn_sord": _spec("cnn_sord", FrameCNN, "CNN on the full frame, SORD"),
    "resnet18_sord": _spec("resnet18_sord", ResNet18Scorer, "ResNet-18 (random init, 1 channel), SORD"),
    "cnn_stn_sord": _spec("cnn_stn_sord", _stn_single, "STN with one learned crop, SORD"),
    "cnn_randomcrop_sord": _spec(
        "cnn_randomcrop_sord", RandomCropCNN, "CNN on random crops (scale 0.5-0.75), SORD"
    ),
    "reg_stn": _spec(
        "reg_stn",
        _reg_stn,
        "Reg-STN: two crops, learned scale+rotation+translation; SORD + consistency + scale prior",
        consistency_weight=1.0,
        scale_weight=1.0,
        scale_priors=(0.5, 0.75),
    ),
    "reg_stn_fixed": _spec(
        "reg_stn_fixed",
        _reg_stn_fixed,
        "Reg-STN: two crops at fixed scales 0.50 / 0.75, learned translation; SORD + consistency",
        consistency_weight=1.0,
    ),
}


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(MODEL_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """Look up a registry entry.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
    """
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}") from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered frame scorer, e.g. ``create_model("reg_stn", num_classes=4)``.

    Raises:
        ValueError: for an unknown name or invalid model arguments.
    """
    return get_model_spec(name).build(**kwargs)
