"""Every model of Pleura and the one model registry: frame scorers (paper §IV-A and Table I baselines),
marker segmenters (paper §IV-C) and CNN-LSTM video scorers.

``MODEL_REGISTRY`` is a plain ``dict[str, ModelSpec]``; each spec records the model factory, its ``task``
(``"frame"``, ``"segmentation"`` or ``"sequence"``) and the loss it trains with (for frame scorers
``spec.loss_kwargs`` are the arguments of :class:`ml.losses.RegSTNLoss`).

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
``lite0_sord``         ImageNet EfficientNet-Lite0 (offline weights) on the full frame SORD
``reg_stn_lite0``      Reg-STN whose crops are classified by ImageNet EfficientNet-Lite0 SORD + cons. + scale
``attention_mil``      gated attention MIL over frame embeddings, severity + findings  SORD + findings BCE
``embedding_probe``    mean/std pooled frame embeddings, linear (a linear probe)        SORD + findings BCE
``unet_roy``           the paper's baseline U-Net (pools 2, 2, 5; latent dropout 0.5)  pixel cross-entropy
``unet_plusplus``      smp U-Net++, ResNet-50 encoder (weights=None)                   pixel cross-entropy
``deeplabv3_plus``     smp DeepLabV3+, ResNet-50 encoder (weights=None)                pixel cross-entropy
``seg_ensemble``       mean softmax of segmenters (default: the three above)           (members' losses)
``densenet_lstm``      Dastider et al.: DenseNet-201 + AE / separable conv, LSTM       CE per frame + recon.
``xception_lstm``      Xception-style + LSTM(512) + 2 x Dense(1024)                    CE per window
``lite0_lstm``         frozen ImageNet EfficientNet-Lite0 features + LSTM(512) + Dense  CE per window
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
from .encoders import ENCODERS, EncoderClassifier, PretrainedEncoder, build_encoder
from .mil import EmbeddingScorerOutput, EmbeddingVideoScorer, pad_bags
from .output import FrameScorerOutput
from .reg_stn import RegSTN, crop_size_for
from .segmentation import (
    NUM_SEG_CLASSES,
    LatentDropoutSegmenter,
    SegmentationEnsemble,
    SegmentationResult,
    SMPDeepLabV3Plus,
    SMPUnetPlusPlus,
)
from .sequence import DastiderCNNLSTM, SequenceScorerOutput, XceptionLSTM, XceptionTrunk, validate_windows
from .stn import LocalisationNet, SimilarityTransformHead, crop_boxes, sample_crop, similarity_theta
from .unet import RoyUNet

__all__ = [
    "DEFAULT_WIDTHS",
    "ENCODERS",
    "MODEL_REGISTRY",
    "NUM_SEG_CLASSES",
    "PRETRAINED_SEGMENTERS",
    "SEGMENTATION_MEMBERS",
    "TASKS",
    "CNNClassifier",
    "CNNTrunk",
    "ClassifierHead",
    "ConvBlock",
    "DastiderCNNLSTM",
    "EmbeddingScorerOutput",
    "EmbeddingVideoScorer",
    "EncoderClassifier",
    "FrameCNN",
    "FrameScorerOutput",
    "LatentDropoutSegmenter",
    "LocalisationNet",
    "ModelSpec",
    "PretrainedEncoder",
    "RandomCropCNN",
    "RegSTN",
    "ResNet18Scorer",
    "RoyUNet",
    "SMPDeepLabV3Plus",
    "SMPUnetPlusPlus",
    "SegmentationEnsemble",
    "SegmentationResult",
    "SequenceScorerOutput",
    "SimilarityTransformHead",
    "XceptionLSTM",
    "XceptionTrunk",
    "build_encoder",
    "create_model",
    "crop_boxes",
    "crop_size_for",
    "get_model_spec",
    "list_models",
    "pad_bags",
    "sample_crop",
    "similarity_theta",
    "validate_frames",
    "validate_windows",
]

#: What a model does: score frames, segment markers, score windows of frames (CNN-LSTM), or score a
#: video from its frames' pretrained embeddings.
TASKS = ("frame", "segmentation", "sequence", "embedding")

#: The paper's ensemble members (§IV-C).
SEGMENTATION_MEMBERS: tuple[str, ...] = ("unet_roy", "unet_plusplus", "deeplabv3_plus")
#: The members built on smp, which take a pretrained ``encoder`` (the paper's U-Net has its own encoder).
PRETRAINED_SEGMENTERS: tuple[str, ...] = ("unet_plusplus", "deeplabv3_plus")


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes:
        name: registry key.
        factory: ``factory(**kwargs) -> nn.Module``; its forward gives :class:`FrameScorerOutput` (task
            ``"frame"``), logits ``(B, C, H, W)`` (``"segmentation"``) or :class:`SequenceScorerOutput`
            (``"sequence"``).
        loss_kwargs: keyword arguments of the task's loss: :class:`ml.losses.RegSTNLoss` for frame scorers
            (``classification`` is ``"ce"`` or ``"sord"``; ``consistency_weight``; ``scale_weight``;
            ``scale_priors``), :class:`ml.losses.SequenceLoss` for sequence models.
        description: one line for ``--help`` / the platform UI.
        defaults: default keyword arguments of ``factory``.
        task: one of :data:`TASKS`.
    """

    name: str
    factory: Callable[..., nn.Module]
    loss_kwargs: Mapping[str, Any]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    task: str = "frame"

    @property
    def loss(self) -> str:
        """Classification loss name: ``"ce"`` or ``"sord"``."""
        return str(self.loss_kwargs.get("classification", "sord"))

    def build(self, **kwargs: Any) -> nn.Module:
        """Instantiate the model (``defaults`` updated with ``kwargs``)."""
        return self.factory(**{**self.defaults, **kwargs})

    def build_loss(self, **overrides: Any) -> nn.Module:
        """Instantiate the training criterion: :class:`ml.losses.RegSTNLoss` (frame scorers), pixel-wise
        cross-entropy (segmenters) or :class:`ml.losses.SequenceLoss` (CNN-LSTMs)."""
        kwargs = {**self.loss_kwargs, **overrides}
        if self.task == "segmentation":
            return nn.CrossEntropyLoss()
        if self.task == "sequence":
            from ml.losses.sequence import SequenceLoss

            kwargs.pop("classification", None)
            return SequenceLoss(**kwargs)
        from ml.losses.stn import RegSTNLoss

        return RegSTNLoss(**kwargs)


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


def _lite0(**kwargs: Any) -> nn.Module:
    return FrameCNN(**{"encoder": "efficientnet_lite0", "pretrained": "imagenet", **kwargs})


def _reg_stn_lite0(**kwargs: Any) -> nn.Module:
    return _reg_stn(**{"encoder": "efficientnet_lite0", "pretrained": "imagenet", **kwargs})


def _lite0_lstm(**kwargs: Any) -> nn.Module:
    return XceptionLSTM(**{"encoder": "efficientnet_lite0", "pretrained": "imagenet", "dense": (256,), **kwargs})


def _attention_mil(**kwargs: Any) -> nn.Module:
    return EmbeddingVideoScorer(**{"pooling": "attention", **kwargs})


def _embedding_probe(**kwargs: Any) -> nn.Module:
    return EmbeddingVideoScorer(**{"pooling": "mean_std", "hidden": 0, **kwargs})


def _seg_ensemble(members: Any = None, num_classes: int = NUM_SEG_CLASSES) -> nn.Module:
    specs = members if members is not None else [
        {"model": name, "model_kwargs": {"num_classes": num_classes}} for name in SEGMENTATION_MEMBERS]
    return SegmentationEnsemble(specs)


def _other(name: str, factory: Callable[..., nn.Module], description: str, task: str, **loss_kwargs: Any) -> ModelSpec:
    return ModelSpec(name=name, factory=factory, loss_kwargs={"classification": "ce", **loss_kwargs},
                     description=description, task=task)


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
    "lite0_sord": _spec("lite0_sord", _lite0, "ImageNet EfficientNet-Lite0 (offline weights) on the full frame, SORD"),
    "reg_stn_lite0": _spec(
        "reg_stn_lite0",
        _reg_stn_lite0,
        "Reg-STN whose crops are classified by ImageNet EfficientNet-Lite0; SORD + consistency + scale prior",
        consistency_weight=1.0,
        scale_weight=1.0,
        scale_priors=(0.5, 0.75),
    ),
    "attention_mil": _other("attention_mil", _attention_mil,
                            "gated attention MIL over pretrained frame embeddings: severity + findings", "embedding"),
    "embedding_probe": _other("embedding_probe", _embedding_probe,
                              "mean/std pooled pretrained frame embeddings, linear: severity + findings", "embedding"),
    "unet_roy": _other("unet_roy", RoyUNet, "the paper's baseline U-Net (pools 2, 2, 5; latent dropout 0.5)",
                       "segmentation"),
    "unet_plusplus": _other("unet_plusplus", SMPUnetPlusPlus, "U-Net++ (smp), ResNet-50 encoder, latent dropout",
                            "segmentation"),
    "deeplabv3_plus": _other("deeplabv3_plus", SMPDeepLabV3Plus, "DeepLabV3+ (smp), ResNet-50 encoder, ASPP dropout",
                             "segmentation"),
    "seg_ensemble": _other("seg_ensemble", _seg_ensemble, "mean softmax of U-Net, U-Net++ and DeepLabV3+",
                           "segmentation"),
    "densenet_lstm": _other("densenet_lstm", DastiderCNNLSTM,
                            "Dastider et al.: DenseNet-201 + autoencoder / separable conv, LSTM, per-frame scores",
                            "sequence", reconstruction_weight=1.0),
    "lite0_lstm": _other("lite0_lstm", _lite0_lstm,
                         "frozen ImageNet EfficientNet-Lite0 frame features + LSTM(512) + dense: one score per video",
                         "sequence", reconstruction_weight=0.0),
    "xception_lstm": _other("xception_lstm", XceptionLSTM,
                            "Xception-style + LSTM(512, dropout 0.4) + 2 x Dense(1024), one score per video",
                            "sequence", reconstruction_weight=0.0),
}


def list_models(task: str | None = None) -> list[str]:
    """Registered model names (of one task, when given), sorted.

    Raises:
        ValueError: for an unknown task.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return sorted(name for name, spec in MODEL_REGISTRY.items() if task is None or spec.task == task)


def get_model_spec(name: str, task: str | None = None) -> ModelSpec:
    """Look up a registry entry (and check its task, when given).

    Raises:
        ValueError: for an unknown name or a model of another task (the message lists the fitting ones).
    """
    spec = MODEL_REGISTRY.get(name)
    if spec is None or (task is not None and spec.task != task):
        which = "" if task is None else f" for task {task!r}"
        raise ValueError(f"unknown model {name!r}{which}; choose one of {', '.join(list_models(task))}")
    return spec


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered model, e.g. ``create_model("reg_stn", num_classes=4)``.

    Raises:
        ValueError: for an unknown name or invalid model arguments.
    """
    return get_model_spec(name).build(**kwargs)
