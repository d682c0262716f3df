"""Evaluation metrics, the paper's evaluation settings and report writing (NumPy / scikit-learn only)."""

from .classification import as_label_array, confusion_matrix, frame_f1, video_metrics
from .report import to_strict_json, write_report
from .segmentation import (
    CATEGORICAL_CLASSES,
    categorical_dice,
    dice,
    pixel_accuracy,
    segmentation_metrics,
)
from .settings import setting2_keep_mask, setting2_keep_mask_flat, setting2_keep_masks, setting3_keep_videos

__all__ = [
    "CATEGORICAL_CLASSES",
    "as_label_array",
    "categorical_dice",
    "confusion_matrix",
    "dice",
    "frame_f1",
    "pixel_accuracy",
    "segmentation_metrics",
    "setting2_keep_mask",
    "setting2_keep_mask_flat",
    "setting2_keep_masks",
    "setting3_keep_videos",
    "to_strict_json",
    "video_metrics",
    "write_report",
]
