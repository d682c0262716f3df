"""Django-free export and import formats: writers stream bytes chunks from plain rows, readers return
plain records. See :mod:`.rows` for the row types the platform provides."""

from .archive import ZipLimits, zip_extract
from .coco import write_coco
from .finding_lists import read_coco_findings, read_labelme_findings
from .labelme import LABELME_VERSION, labelme_document, labelme_name, write_labelme_zip
from .manifest import write_manifest
from .masks_zip import frame_mask, mask_name, write_masks_zip
from .readers import (
    ContourRecord,
    ContourRecords,
    FormatError,
    FrameKey,
    ScoreRecord,
    read_coco,
    read_labelme_folder,
)
from .rows import CHUNK_SIZE, DEFAULT_CLASS_NAMES, LABEL_COLUMNS, FrameRef, LabelRow, frame_image_name
from .score_csv import FindingRecord, ScoreRecords, read_score_csv
from .tabular import write_csv, write_jsonl

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CLASS_NAMES",
    "LABELME_VERSION",
    "LABEL_COLUMNS",
    "ContourRecord",
    "ContourRecords",
    "FindingRecord",
    "FormatError",
    "FrameKey",
    "FrameRef",
    "LabelRow",
    "ScoreRecord",
    "ScoreRecords",
    "ZipLimits",
    "frame_image_name",
    "frame_mask",
    "labelme_document",
    "labelme_name",
    "mask_name",
    "read_coco",
    "read_coco_findings",
    "read_labelme_findings",
    "read_labelme_folder",
    "read_score_csv",
    "write_coco",
    "write_csv",
    "write_jsonl",
    "write_labelme_zip",
    "write_manifest",
    "write_masks_zip",
    "zip_extract",
]
