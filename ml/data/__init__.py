"""Data: manifests, frame loading (with a decoded-video cache), transforms, patient-level splits, segmentation
samples with their joint augmentation, and windows of video frames for the CNN-LSTMs."""

from .clips import ClipSet, build_clip_set, window_starts
from .dataset import FrameDataset, VideoFrameCache, decode_video, read_image
from .manifest import NUM_SCORES, ManifestError, ManifestRow, parse_row, read_manifest, write_manifest
from .seg_augment import SegAugment
from .segmentation import (
    SEG_SIZE,
    SegmentationSample,
    balanced_order,
    load_samples,
    mask_score,
    phantom_segmentation_samples,
    restore_original,
)
from .splits import patient_kfold, patient_max_scores, patient_train_test_split, rows_for_patients
from .transforms import LUSAugment, PadInfo, resize_pad, to_grayscale, to_tensor

__all__ = [
    "NUM_SCORES",
    "SEG_SIZE",
    "ClipSet",
    "FrameDataset",
    "LUSAugment",
    "ManifestError",
    "ManifestRow",
    "PadInfo",
    "SegAugment",
    "SegmentationSample",
    "VideoFrameCache",
    "balanced_order",
    "build_clip_set",
    "decode_video",
    "load_samples",
    "mask_score",
    "parse_row",
    "patient_kfold",
    "patient_max_scores",
    "patient_train_test_split",
    "phantom_segmentation_samples",
    "read_image",
    "read_manifest",
    "resize_pad",
    "restore_original",
    "rows_for_patients",
    "to_grayscale",
    "to_tensor",
    "window_starts",
    "write_manifest",
]
