"""Data: manifests, frame loading (with a decoded-video cache), transforms and patient-level splits."""

from .dataset import FrameDataset, VideoFrameCache, decode_video, read_image
from .manifest import NUM_SCORES, ManifestError, ManifestRow, parse_row, read_manifest, write_manifest
from .splits import patient_kfold, patient_max_scores, patient_train_test_split, rows_for_patients
from .transforms import LUSAugment, PadInfo, resize_pad, to_grayscale, to_tensor

__all__ = [
    "NUM_SCORES",
    "FrameDataset",
    "LUSAugment",
    "ManifestError",
    "ManifestRow",
    "PadInfo",
    "VideoFrameCache",
    "decode_video",
    "parse_row",
    "patient_kfold",
    "patient_max_scores",
    "patient_train_test_split",
    "read_image",
    "read_manifest",
    "resize_pad",
    "rows_for_patients",
    "to_grayscale",
    "to_tensor",
    "write_manifest",
]
