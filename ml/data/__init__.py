"""Data: manifests (and the COVID-BLUeS folder layout as one), frame loading (with a decoded-video cache), video
files, transforms, patient-level splits, segmentation samples with their joint augmentation, windows of video
frames for the sequence models (CNN-LSTMs), and the prediction / video-label files the CLIs exchange."""

from .clips import ClipSet, build_clip_set, window_starts
from .covid_blues import FINDING_COLUMNS, CovidBluesVideo, covid_blues_rows, read_covid_blues
from .dataset import FrameDataset, VideoFrameCache, read_image
from .manifest import ManifestError, ManifestRow, parse_row, read_manifest, write_manifest
from .predictions import (
    annotator_video_scores,
    group_predictions,
    load_annotator_labels,
    load_video_labels,
    read_predictions,
    video_labels_from_predictions,
    write_jsonl,
)
from .seg_augment import SegAugment
from .segmentation import (
    SEG_SIZE,
    SegmentationSample,
    balanced_order,
    load_samples,
    mask_score,
    phantom_segmentation_samples,
    restore_original,
    samples_from_manifest,
)
from .splits import (
    patient_kfold,
    patient_max_scores,
    patient_train_test_split,
    rows_for_patients,
    rows_train_test_split,
)
from .transforms import LUSAugment, PadInfo, resize_pad, to_grayscale, to_tensor, uint8_to_float
from .video_io import GrayVideo, decode_video, read_video, video_frame_count, write_video

__all__ = [
    "FINDING_COLUMNS",
    "SEG_SIZE",
    "ClipSet",
    "CovidBluesVideo",
    "FrameDataset",
    "GrayVideo",
    "LUSAugment",
    "ManifestError",
    "ManifestRow",
    "PadInfo",
    "SegAugment",
    "SegmentationSample",
    "VideoFrameCache",
    "annotator_video_scores",
    "balanced_order",
    "build_clip_set",
    "covid_blues_rows",
    "decode_video",
    "group_predictions",
    "load_annotator_labels",
    "load_samples",
    "load_video_labels",
    "mask_score",
    "parse_row",
    "patient_kfold",
    "patient_max_scores",
    "patient_train_test_split",
    "phantom_segmentation_samples",
    "read_covid_blues",
    "read_image",
    "read_manifest",
    "read_predictions",
    "read_video",
    "resize_pad",
    "restore_original",
    "rows_for_patients",
    "rows_train_test_split",
    "samples_from_manifest",
    "to_grayscale",
    "to_tensor",
    "uint8_to_float",
    "video_frame_count",
    "video_labels_from_predictions",
    "window_starts",
    "write_jsonl",
    "write_manifest",
    "write_video",
]
