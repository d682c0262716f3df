"""Training: one trainer per model kind on the machinery they share.

* :mod:`ml.training.common`: configuration base, progress reports, cancellation, cosine schedule, epoch order;
* :mod:`ml.training.frame`: frame scorers (Reg-STN and the Table I baselines);
* :mod:`ml.training.aggregator`: the uninorm video aggregator;
* :mod:`ml.training.segmentation`: the marker-segmentation ensemble;
* :mod:`ml.training.sequence`: the sequence models (CNN-LSTM video scorers);
* :mod:`ml.training.embedding`: video scorers on cached pretrained frame embeddings (probe, attention MIL).

The command line is :mod:`ml.train`; inference lives in :mod:`ml.inference`.
"""

from .aggregator import AggregatorTrainConfig, AggregatorTrainResult, train_aggregator
from .common import (
    CosineFactor,
    ProgressCallback,
    StopCallback,
    TrainConfig,
    TrainingCancelled,
    TrainProgress,
    epoch_order,
    make_scheduler,
    restore_scheduler,
    restore_training_state,
)
from .embedding import (
    EmbeddingTrainConfig,
    EmbeddingTrainResult,
    bag_predictions,
    cross_validate,
    finding_truth,
    fit_uninorm,
    frame_aggregate_probs,
    oof_predictions,
    patient_folds,
    split_validation,
    train_embedding_model,
    uninorm_from_state,
    uninorm_state,
)
from .frame import FrameTrainConfig, FrameTrainResult, evaluate, train_frame_scorer, train_one_epoch
from .segmentation import (
    SegTrainConfig,
    SegTrainResult,
    evaluate_segmenters,
    flat_metrics,
    train_segmentation,
)
from .sequence import SequenceTrainConfig, SequenceTrainResult, evaluate_sequence_model, train_sequence_model

__all__ = [
    "AggregatorTrainConfig",
    "AggregatorTrainResult",
    "CosineFactor",
    "EmbeddingTrainConfig",
    "EmbeddingTrainResult",
    "FrameTrainConfig",
    "FrameTrainResult",
    "ProgressCallback",
    "SegTrainConfig",
    "SegTrainResult",
    "SequenceTrainConfig",
    "SequenceTrainResult",
    "StopCallback",
    "TrainConfig",
    "TrainProgress",
    "TrainingCancelled",
    "bag_predictions",
    "cross_validate",
    "epoch_order",
    "evaluate",
    "evaluate_segmenters",
    "evaluate_sequence_model",
    "finding_truth",
    "fit_uninorm",
    "flat_metrics",
    "frame_aggregate_probs",
    "make_scheduler",
    "oof_predictions",
    "patient_folds",
    "restore_scheduler",
    "restore_training_state",
    "split_validation",
    "train_aggregator",
    "train_embedding_model",
    "train_frame_scorer",
    "train_one_epoch",
    "train_segmentation",
    "train_sequence_model",
    "uninorm_from_state",
    "uninorm_state",
]
