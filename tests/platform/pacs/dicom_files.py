"""Synthetic ultrasound DICOM for the PACS tests: Ultrasound Multi-frame Image Storage, random speckle."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def us_multiframe(*, frames: int = 20, rows: int = 64, columns: int = 64, patient_id: str = "MRN-0042",
                  study_uid: str | None = None, seed: int = 0) -> Dataset:
    """A multi-frame US instance with identifying attributes (name, birth date, accession) to be removed."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = patient_id, "Doe^Jane", "19700101", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20261130", "101010", "ACC-77", "1"
    ds.ContentDate, ds.ContentTime = "20261130", "101010"
    ds.ReferringPhysicianName, ds.StudyDescription, ds.InstitutionName = "Who^Doctor", "LUNG US", "General"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = "US", 1, 1, "Acme"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime, ds.FrameIncrementPointer = 40.0, Tag("FrameTime")
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    rng = np.random.default_rng(seed)
    ds.PixelData = rng.integers(0, 256, (frames, rows, columns), dtype=np.uint8).tobytes()
    return ds


def ct_image(patient_id: str = "MRN-0042") -> Dataset:
    ds = us_multiframe(frames=1, patient_id=patient_id)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE
    ds.Modality = "CT"
    del ds.NumberOfFrames, ds.FrameTime, ds.FrameIncrementPointer
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
