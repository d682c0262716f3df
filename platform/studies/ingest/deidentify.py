"""DICOM de-identification before anything is stored: PS3.15 Basic Application Level Confidentiality.

Every attribute of PS3.15 Table E.1-1 gets its action (`confidentiality_profile.action_for`) wherever
it occurs, in nested sequences too; private tags are removed; every UID the table marks U is replaced
through one keyed mapping (`pseudonyms.pseudonymous_uid`), so references inside sequences still point
at the remapped SOP/Series/Study UIDs. Beyond the table, person names, dates and times of unlisted tags
are removed and unlisted instance UIDs remapped. The File Meta Information and preamble are replaced.
The original PatientID is only used to derive the pseudonymous patient code, then dropped.
"""

from __future__ import annotations

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from .confidentiality_profile import action_for
from .pseudonyms import pseudonymous_uid

REMOVED_VRS = frozenset({"PN", "DA", "DT", "TM"})  # of unlisted tags (Table E.1-1, note 4)
REMAPPED_UID_SUFFIXES = ("InstanceUID", "FrameOfReferenceUID")  # of unlisted UI tags
TEXT_DUMMY = "ANONYMIZED"
DUMMY_BY_VR: dict[str, object] = {
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y", "IS": "0", "DS": "0",
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0, "FL": 0.0, "FD": 0.0,
    "OB": b"\0\0", "OW": b"\0\0", "UN": b"\0\0",
}
FILE_META_KEPT = frozenset({0x00020001, 0x00020002, 0x00020003, 0x00020010})  # the rest is re-written
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
CLEAN_PIXEL_DATA_CODE = ("113101", "Clean Pixel Data Option")
METHOD = "PS3.15 E.1 Basic Application Confidentiality Profile (Pleura)"


def deidentify(dataset: Dataset, *, key: str, pseudonym: str, pixels_cleaned: bool = False) -> Dataset:
    """De-identify `dataset` in place and return it.

    The pseudonym becomes PatientName and PatientID so the file still says whose it is, without saying
    who that is. `pixels_cleaned` records that burned-in annotation was masked (Clean Pixel Data Option).
    """
    _clean(dataset, key=key)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        _replace_file_meta(dataset, meta, key=key)
    if hasattr(dataset, "preamble"):
        dataset.preamble = b"\0" * 128  # a preamble may hold anything (a TIFF header with text, ...)
    dataset.PatientName = pseudonym
    dataset.PatientID = pseudonym
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = METHOD
    codes = [BASIC_PROFILE_CODE, *([CLEAN_PIXEL_DATA_CODE] if pixels_cleaned else [])]
    dataset.DeidentificationMethodCodeSequence = Sequence([_code_item(value, meaning) for value, meaning in codes])
    if pixels_cleaned:
        dataset.BurnedInAnnotation = "NO"
    return dataset


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _clean(dataset: Dataset, *, key: str) -> None:
    """Apply the profile to every element of `dataset` and, recursively, of its sequences' items."""
    for tag in list(dataset.keys()):
        element = dataset[tag]
        if tag.is_private:
            del dataset[tag]
            continue
        action = action_for(int(tag)) or _unlisted_action(element)
        if action == "X":
            del dataset[tag]
        elif action == "Z":
            element.value = Sequence() if element.VR == "SQ" else None
        elif action == "D":
            _replace_with_dummy(element)
        elif action == "U" and element.VR != "SQ":
            element.value = _remapped(element.value, key=key)
        elif element.VR == "SQ":  # K, or U on a sequence: keep it, clean (and remap) inside
            for item in element.value:
                _clean(item, key=key)


def _unlisted_action(element: DataElement) -> str:
    if element.VR in REMOVED_VRS:
        return "X"
    if element.VR == "UI" and element.keyword.endswith(REMAPPED_UID_SUFFIXES):
        return "U"
    return "K"


def _replace_with_dummy(element: DataElement) -> None:
    if element.VR == "SQ":
        element.value = Sequence([Dataset()])  # one empty item: a non-empty value that says nothing
    elif element.VR == "UI":
        element.value = "2.25.0"
    else:
        element.value = DUMMY_BY_VR.get(element.VR, TEXT_DUMMY)


def _remapped(value: object, *, key: str) -> object:
    if value is None or value == "":
        return value
    if isinstance(value, (list, tuple, MultiValue)):
        return [pseudonymous_uid(str(uid), key=key) for uid in value]
    return pseudonymous_uid(str(value), key=key)


def _replace_file_meta(dataset: Dataset, meta: FileMetaDataset, *, key: str) -> None:
    """Keep only what identifies the object's kind and encoding; pydicom re-writes the rest on save."""
    for tag in list(meta.keys()):
        if int(tag) not in FILE_META_KEPT:
            del meta[tag]
    if "SOPClassUID" in dataset and not meta.get("MediaStorageSOPClassUID"):
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    if "SOPInstanceUID" in dataset:
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    elif "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = UID(pseudonymous_uid(str(meta.MediaStorageSOPInstanceUID), key=key))
