"""DICOM de-identification before anything is stored.

Removes every person name (PN), every date and time (DA/DT/TM), the identifiers, addresses and
institution tags below, and all private tags, in nested sequences too; UIDs are replaced by new ones
derived from a secret key so that frames of one study still belong together. The original PatientID
is only used to derive the pseudonymous patient code, then dropped.
"""

from __future__ import annotations

import hashlib
import hmac

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

IDENTIFYING_KEYWORDS = frozenset({
    "PatientID", "IssuerOfPatientID", "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames",
    "PatientBirthName", "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers",
    "PatientTelecomInformation", "MilitaryRank", "BranchOfService", "MedicalRecordLocator",
    "Occupation", "PatientInsurancePlanCodeSequence", "PatientReligiousPreference", "CountryOfResidence",
    "RegionOfResidence", "EthnicGroup", "AdditionalPatientHistory", "PatientComments",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "StationName",
    "DeviceSerialNumber", "AccessionNumber", "StudyID", "RequestAttributesSequence",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "RequestedProcedureID",
    "PatientBirthDate", "PatientBirthTime", "PatientAge", "PatientWeight", "PatientSize",
})
UID_KEYWORDS = frozenset({"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
                          "MediaStorageSOPInstanceUID"})
REMOVED_VRS = frozenset({"PN", "DA", "DT", "TM"})


def pseudonymous_code(patient_id: str, *, key: str) -> str:
    """Stable, non-reversible patient code from the original PatientID (keyed HMAC-SHA-256)."""
    if not key:
        raise ValueError("PLEURA_PSEUDONYM_KEY is empty: refusing to derive guessable patient codes")
    digest = hmac.new(key.encode(), patient_id.strip().encode(), hashlib.sha256).hexdigest()
    return f"DCM-{digest[:12].upper()}"


def deidentify(dataset: Dataset, *, key: str, pseudonym: str) -> Dataset:
    """Strip identifying tags from `dataset` in place and return it.

    The pseudonym becomes PatientName and PatientID so the file still says whose it is, without
    saying who that is.
    """
    dataset.remove_private_tags()

    def scrub(ds: Dataset, element: DataElement) -> None:
        keyword = getattr(element, "keyword", "")
        vr = getattr(element, "VR", "")
        tag = element.tag
        if keyword in UID_KEYWORDS:
            ds[tag].value = generate_uid(entropy_srcs=[key, str(ds[tag].value)])
        elif vr in REMOVED_VRS or keyword in IDENTIFYING_KEYWORDS:
            del ds[tag]

    dataset.walk(scrub)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta and "SOPInstanceUID" in dataset:
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.PatientName = pseudonym
    dataset.PatientID = pseudonym
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "Pleura: names, dates, IDs, institution, private tags removed"
    return dataset
