"""Pleura's scores and masks as DICOM objects (highdicom): a TID 1500 Measurement Report (Comprehensive SR)
with the video score and one measurement group per scored frame, and DICOM SEG for segmentation masks.

Pure: datasets in, datasets out, no database. The source dataset given is the one the results refer
to: the stored de-identified copy, with its UIDs (and patient ID) put back where the site opted in.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

#: Pleura's own codes (a private coding scheme, PS3.16 8.2: designators beginning with 99).
SCHEME = "99PLEURA"
VIDEO_SCORE = hd.sr.CodedConcept("LUS-VIDEO", SCHEME, "Lung ultrasound score of the video")
FRAME_SCORE = hd.sr.CodedConcept("LUS-FRAME", SCHEME, "Lung ultrasound score of the frame")
PROCEDURE = hd.sr.CodedConcept("LUS-SCORING", SCHEME, "Lung ultrasound scoring")
SCORE_UNIT = hd.sr.CodedConcept("{score}", "UCUM", "score")
MANUFACTURER = "Pleura"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SR_SERIES_NUMBER = 9001
SEG_SERIES_NUMBER = 9002


@dataclass(frozen=True)
class Algorithm:
    name: str
    version: str

    def identification(self) -> hd.AlgorithmIdentificationSequence:
        return hd.AlgorithmIdentificationSequence(name=self.name, version=self.version,
                                                  family=codes.cid7162.ArtificialIntelligence)


def _frame_image(source: Dataset, frame_number: int) -> hd.sr.SourceImageForMeasurementGroup:
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=source.SOPClassUID, referenced_sop_instance_uid=source.SOPInstanceUID,
        referenced_frame_numbers=[frame_number])


def scores_report(source: Dataset, *, video_score: int | None, frame_scores: dict[int, int],
                  algorithm: Algorithm) -> hd.sr.ComprehensiveSR:
    """TID 1500 report: a measurement group for the video (whole instance) and one per scored frame
    (frame_scores: 0-based frame index -> score), each referencing the source instance (and frame)."""
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), manufacturer_name=MANUFACTURER, model_name=algorithm.name))
    context = hd.sr.ObservationContext(observer_device_context=observer)
    tracker = hd.sr.AlgorithmIdentification(name=algorithm.name, version=algorithm.version)
    groups = []
    if video_score is not None:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="video"),
            source_images=[hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=source.SOPClassUID, referenced_sop_instance_uid=source.SOPInstanceUID)],
            measurements=[hd.sr.Measurement(name=VIDEO_SCORE, value=video_score, unit=SCORE_UNIT,
                                            algorithm_id=tracker)]))
    for index, score in sorted(frame_scores.items()):
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"frame {index + 1}"),
            source_images=[_frame_image(source, index + 1)],
            measurements=[hd.sr.Measurement(name=FRAME_SCORE, value=score, unit=SCORE_UNIT, algorithm_id=tracker)]))
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=PROCEDURE,
                                     imaging_measurements=groups)
    return hd.sr.ComprehensiveSR(
        evidence=[source], content=report[0], series_instance_uid=hd.UID(), series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
        series_description="Pleura lung ultrasound scores", is_complete=True, is_final=False)


@dataclass(frozen=True)
class SegmentClass:
    index: int  # class id in the mask images
    name: str


def _frame_view(source: Dataset, index: int) -> Dataset:
    """A single-frame stand-in for frame `index` of a multi-frame source (same UIDs): highdicom builds a
    SEG from a multi-frame source only when it has a frame of reference, which ultrasound cine lacks."""
    view = Dataset()
    skipped = (0x00280008, 0x00280009, 0x52009230, 0x7FE00010)  # frames, pointer, per-frame groups, pixels
    for element in source:  # a Dataset iterates over its elements
        if element.tag not in skipped:
            view.add(copy.deepcopy(element))
    view.file_meta = copy.deepcopy(source.file_meta)
    rows, columns = int(source.Rows), int(source.Columns)
    view.PixelData = np.zeros((rows, columns), dtype=np.uint8).tobytes()
    view.BitsAllocated, view.BitsStored, view.HighBit, view.SamplesPerPixel = 8, 8, 7, 1
    view.PhotometricInterpretation, view.PixelRepresentation = "MONOCHROME2", 0
    view.ImageType = ["DERIVED", "PRIMARY"]
    view.SOPClassUID = US_IMAGE_STORAGE  # single-frame, so highdicom takes it; the class is put back below
    return view


def frame_segmentations(source: Dataset, masks: dict[int, np.ndarray], classes: Sequence[SegmentClass],
                        *, algorithm: Algorithm) -> list[hd.seg.Segmentation]:
    """One DICOM SEG per masked frame (masks: 0-based frame index -> class-id image), its segments the
    classes present; each references the source instance and, by Referenced Frame Number, its frame."""
    names = {c.index: c.name for c in classes}
    series_uid = hd.UID()
    identification = algorithm.identification()
    results = []
    for number, (index, mask) in enumerate(sorted(masks.items()), start=1):
        present = [int(v) for v in np.unique(mask) if v != 0]
        if not present:
            continue
        labels = np.zeros(mask.shape, dtype=np.uint8)
        descriptions = []
        for segment, value in enumerate(present, start=1):
            labels[mask == value] = segment
            descriptions.append(hd.seg.SegmentDescription(
                segment_number=segment, segment_label=names.get(value, f"class {value}")[:64],
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Lung,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=identification))
        seg = hd.seg.Segmentation(
            source_images=[_frame_view(source, index)], pixel_array=labels[np.newaxis],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
            series_instance_uid=series_uid, series_number=SEG_SERIES_NUMBER, sop_instance_uid=hd.UID(),
            instance_number=number, manufacturer=MANUFACTURER, manufacturer_model_name=algorithm.name,
            software_versions=algorithm.version, device_serial_number="0",
            series_description="Pleura segmentation")
        _reference_frame(seg, index + 1, sop_class=source.SOPClassUID)
        results.append(seg)
    return results


def _reference_frame(seg: Dataset, frame_number: int, *, sop_class: str) -> None:
    """Point the SEG's references at the real source: its SOP class and the frame (Referenced Frame Number)."""
    references = [source_image for item in seg.PerFrameFunctionalGroupsSequence
                  for derivation in item.get("DerivationImageSequence", [])
                  for source_image in derivation.get("SourceImageSequence", [])]
    references += [instance for series in seg.get("ReferencedSeriesSequence", [])
                   for instance in series.get("ReferencedInstanceSequence", [])]
    for reference in references:
        reference.ReferencedSOPClassUID = sop_class
        reference.ReferencedFrameNumber = frame_number
