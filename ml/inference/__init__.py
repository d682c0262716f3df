"""Inference: what a trained model of each kind produces for new frames and videos.

* :mod:`ml.inference.frame`: frame scorers' score probabilities and crop boxes (:func:`load_frame_scorer`
  rebuilds any registry model from a checkpoint);
* :mod:`ml.inference.aggregator`: video scores from frame predictions (uninorm aggregator and baselines);
* :mod:`ml.inference.segmentation`: the segmentation ensemble's masks and MC-dropout uncertainty;
* :mod:`ml.inference.sequence`: the sequence models' (CNN-LSTM) frame and video scores.

The command line is :mod:`ml.predict`.
"""

from .aggregator import load_aggregator, predict_videos
from .frame import load_frame_scorer, predict_frames
from .segmentation import UNCERTAINTY_PNG_MAX, segment_images, uncertainty_to_uint8
from .sequence import predict_clips, predict_sequence_rows

__all__ = [
    "UNCERTAINTY_PNG_MAX",
    "load_aggregator",
    "load_frame_scorer",
    "predict_clips",
    "predict_frames",
    "predict_sequence_rows",
    "predict_videos",
    "segment_images",
    "uncertainty_to_uint8",
]
