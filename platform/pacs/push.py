"""Sending a video's model results back to its PACS: scores as a TID 1500 SR, masks as DICOM SEG, STOW-RS.

The objects refer to the video's stored (de-identified) DICOM copy. Where the endpoint's site opted in
(`keep_uid_mapping`), its pseudonymised study/series/instance UIDs and patient ID are put back from
`UidMapping` first, so the PACS files the results beside its own images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pydicom
from django.core.files.storage import default_storage
from PIL import Image
from pydicom.dataset import Dataset

from annotations.models import SegmentationClass
from core.errors import InvalidInput
from modelling.models import FramePrediction, ModelVersion, SegmentationPrediction, VideoPrediction
from studies.models import Video, VideoFormat

from .dicomweb import datasets_store
from .models import DicomwebEndpoint, UidKind, UidMapping
from .results import Algorithm, SegmentClass, frame_segmentations, scores_report

REIDENTIFIED = {UidKind.STUDY: "StudyInstanceUID", UidKind.SERIES: "SeriesInstanceUID",
                UidKind.INSTANCE: "SOPInstanceUID", UidKind.PATIENT: "PatientID"}


@dataclass
class PushResult:
    sr_uid: str = ""
    seg_uids: list[str] = field(default_factory=list)
    reidentified: bool = False


def source_dataset(video: Video) -> Dataset:
    if video.format != VideoFormat.DICOM or not video.source_file:
        raise InvalidInput("only videos imported from DICOM can be sent back to a PACS")
    with default_storage.open(str(video.source_file.name), "rb") as handle:
        return pydicom.dcmread(handle)


def reidentify(dataset: Dataset, endpoint: DicomwebEndpoint) -> bool:
    """Put the original UIDs and patient ID back in `dataset` from the site's mapping; False when the
    site did not opt in or the mapping lacks the instance."""
    if not endpoint.keep_uid_mapping:
        return False
    pseudonyms = {kind: str(dataset.get(keyword, "") or "") for kind, keyword in REIDENTIFIED.items()}
    rows = UidMapping.objects.filter(site=endpoint.site, pseudonym__in=[p for p in pseudonyms.values() if p])
    originals = {(row.kind, row.pseudonym): row.original for row in rows}
    if (UidKind.INSTANCE, pseudonyms[UidKind.INSTANCE]) not in originals:
        return False
    for kind, keyword in REIDENTIFIED.items():
        original = originals.get((kind, pseudonyms[kind]))
        if original:
            setattr(dataset, keyword, original)
    dataset.PatientName = ""  # Pleura never kept the name
    return True


def _latest(rows: list, attribute: str = "model_version") -> ModelVersion | None:
    return max((getattr(row, attribute) for row in rows), key=lambda version: version.pk, default=None)


def _masks(video: Video) -> tuple[dict[int, np.ndarray], ModelVersion | None]:
    rows = list(SegmentationPrediction.objects.filter(frame__video=video).select_related("frame", "model_version"))
    version = _latest(rows)
    masks = {}
    for row in rows:
        if row.model_version_id == getattr(version, "pk", None):
            with default_storage.open(str(row.mask.name), "rb") as handle:
                masks[row.frame.index] = np.asarray(Image.open(handle))
    return masks, version


def results_push(video: Video, endpoint: DicomwebEndpoint) -> PushResult:
    """Build the SR (video and frame scores of the latest model versions) and the SEGs (latest masks), STOW them."""
    source = source_dataset(video)
    result = PushResult(reidentified=reidentify(source, endpoint))
    video_prediction = VideoPrediction.objects.filter(video=video).select_related("model_version") \
        .order_by("-model_version_id").first()
    frame_rows = list(FramePrediction.objects.filter(frame__video=video).select_related("frame", "model_version"))
    frame_version = _latest(frame_rows)
    frame_scores = {row.frame.index: row.score for row in frame_rows if row.model_version_id == frame_version.pk} \
        if frame_version else {}
    masks, mask_version = _masks(video)
    if video_prediction is None and not frame_scores and not masks:
        raise InvalidInput("the video has no model results yet")
    datasets: list[Dataset] = []
    scorer = video_prediction.model_version if video_prediction else frame_version
    if scorer is not None:
        report = scores_report(source, video_score=video_prediction.score if video_prediction else None,
                               frame_scores=frame_scores,
                               algorithm=Algorithm(name=scorer.name[:64], version=str(scorer.pk)))
        datasets.append(report)
        result.sr_uid = str(report.SOPInstanceUID)
    if masks and mask_version is not None:
        classes = [SegmentClass(index=c.index, name=c.name) for c in SegmentationClass.objects.all()]
        segs = frame_segmentations(source, masks, classes,
                                   algorithm=Algorithm(name=mask_version.name[:64], version=str(mask_version.pk)))
        datasets += segs
        result.seg_uids = [str(seg.SOPInstanceUID) for seg in segs]
    datasets_store(endpoint, datasets)
    return result
