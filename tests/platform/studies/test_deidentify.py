"""DICOM de-identification by the PS3.15 Basic Application Level Confidentiality Profile (issue 16, item 8).

Every stored byte is searched for the identifying strings a crafted file holds in free-text attributes,
nested sequences and private tags; UIDs are remapped by one keyed mapping, references included.
"""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from studies.ingest.confidentiality_profile import BASIC_PROFILE, basic_action
from studies.ingest.deidentify import deidentify
from studies.ingest.pseudonyms import pseudonymous_uid
from studies.services import dicom_copies_deidentify, video_ingest
from tests.platform.conftest import media_files

pytestmark = pytest.mark.django_db

NAME, MRN, PLACE = "Doe^John", "MRN-998877", "Ward 7 Bed 3"
IDENTIFYING = (b"Doe^John", b"998877", b"Ward 7 Bed", b"St John Hospital")  # long enough not to occur by chance in PNG data


def dicom_testdata(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} not installed")
    return Path(path)


def referencing_item(sop_uid: str, series_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    item.ReferencedSOPInstanceUID = sop_uid
    inner = Dataset()
    inner.SeriesInstanceUID = series_uid
    inner.ReferencedSOPInstanceUID = sop_uid
    item.ReferencedSeriesSequence = Sequence([inner])
    return item


def crafted(source: str, tmp_path: Path) -> tuple[Path, Dataset]:
    """A pydicom test file with a name and an MRN wherever the issue's probe found them."""
    dataset = pydicom.dcmread(dicom_testdata(source))
    dataset.PatientName, dataset.PatientID = NAME, MRN
    dataset.ImageComments = f"patient {NAME} {MRN}"
    dataset.StudyDescription = f"LUS of {NAME}"
    dataset.ProtocolName = f"{MRN} lung"
    dataset.CurrentPatientLocation = PLACE
    dataset.AccessionNumber = MRN
    dataset.InstitutionName = "St John Hospital"
    dataset.OperatorsName = NAME
    dataset.SourceImageSequence = Sequence([referencing_item(dataset.SOPInstanceUID, dataset.SeriesInstanceUID)])
    dataset.ReferencedSeriesSequence = Sequence([referencing_item(dataset.SOPInstanceUID, dataset.SeriesInstanceUID)])
    nested = Dataset()
    nested.add_new(0x00091010, "LO", f"private {NAME}")
    nested.PersonName = NAME
    dataset.add_new(0x00091001, "LO", "ACME private creator")
    dataset.add_new(0x00091002, "LO", MRN)
    dataset.VerifyingObserverSequence = Sequence([nested])
    dataset.add_new(0x60004000, "LT", NAME)  # Overlay Comments: overlay groups are removed
    path = tmp_path / "Doe_John_MRN-998877.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path, pydicom.dcmread(path)


@pytest.mark.parametrize("source", ["US1_UNCR.dcm", "CT_small.dcm", "MR_small.dcm"])
def test_no_identifying_string_is_stored(source, tmp_path, patient, media_root):
    path, original = crafted(source, tmp_path)
    assert MRN in original.ProtocolName and NAME in original.ImageComments

    video = video_ingest(source=path, original_name=path.name, patient=patient).video

    raw = b"".join(p.read_bytes() for p in media_files(media_root))
    for needle in IDENTIFYING:
        assert needle not in raw, needle
    stored = pydicom.dcmread(default_storage.path(video.source_file.name))
    for keyword in ("ImageComments", "StudyDescription", "ProtocolName", "CurrentPatientLocation",
                    "InstitutionName", "OperatorsName"):
        assert keyword not in stored, keyword
    assert stored.get("AccessionNumber", "") == ""  # Z: kept, zero length
    assert not any(element.tag.is_private for element in stored.iterall())
    assert stored.PatientIdentityRemoved == "YES"
    method = stored.DeidentificationMethodCodeSequence[0]
    assert (method.CodeValue, method.CodingSchemeDesignator) == ("113100", "DCM")
    assert stored.preamble is None or not stored.preamble.strip(b"\0")


def test_uids_are_remapped_consistently_in_sequences(tmp_path, patient, media_root):
    path, original = crafted("US1_UNCR.dcm", tmp_path)
    key = settings.PLEURA_PSEUDONYM_KEY

    video = video_ingest(source=path, original_name=path.name, patient=patient).video

    stored = pydicom.dcmread(default_storage.path(video.source_file.name))
    new_sop = pseudonymous_uid(original.SOPInstanceUID, key=key)
    assert stored.SOPInstanceUID == new_sop == stored.file_meta.MediaStorageSOPInstanceUID
    assert stored.StudyInstanceUID == pseudonymous_uid(original.StudyInstanceUID, key=key)
    assert stored.SOPClassUID == original.SOPClassUID  # well-known UIDs stay
    for sequence in ("SourceImageSequence", "ReferencedSeriesSequence"):
        item = stored[sequence][0]
        assert item.ReferencedSOPInstanceUID == new_sop
        assert item.ReferencedSeriesSequence[0].ReferencedSOPInstanceUID == new_sop
        assert item.ReferencedSeriesSequence[0].SeriesInstanceUID == stored.SeriesInstanceUID
    raw = Path(default_storage.path(video.source_file.name)).read_bytes()
    for uid in (original.SOPInstanceUID, original.StudyInstanceUID, original.SeriesInstanceUID):
        assert uid.encode() not in raw


def test_every_table_action_reduces_to_a_basic_action():
    assert len(BASIC_PROFILE) > 400  # the whole of Table E.1-1, not a hand list
    assert {basic_action(code) for code in BASIC_PROFILE.values()} <= {"D", "Z", "X", "K", "U"}
    assert basic_action("X/Z/D") == "X" and basic_action("Z/D") == "Z" and basic_action("X/Z/U*") == "U"


def test_actions_apply_in_nested_sequences():
    dataset = Dataset()
    inner = Dataset()
    inner.PatientName = NAME  # Z
    inner.StudyDescription = NAME  # X
    inner.ContentDate = "20200101"  # Z/D -> Z
    inner.PersonName = NAME  # D
    inner.ReferencedStudySequence = Sequence([Dataset()])  # X/Z -> X
    inner.add_new(0x00111001, "LO", NAME)  # private
    dataset.ReferencedSeriesSequence = Sequence([inner])  # not in the table: kept, and cleaned inside

    deidentify(dataset, key="k", pseudonym="P-1")

    item = dataset.ReferencedSeriesSequence[0]
    assert item.PatientName in ("", None) and item.ContentDate in ("", None)
    assert "StudyDescription" not in item and "ReferencedStudySequence" not in item
    assert str(item.PersonName) not in ("", NAME)
    assert not any(element.tag.is_private for element in dataset.iterall())
    assert str(dataset.PatientName) == "P-1"


def test_copies_stored_by_older_versions_are_deidentified_again(tmp_path, patient, media_root):
    path, old = crafted("US1_UNCR.dcm", tmp_path)  # what an older version left: the free text untouched
    video = video_ingest(source=path, original_name=path.name, patient=patient).video
    stored = Path(default_storage.path(video.source_file.name))
    old.BurnedInAnnotation = "YES"
    old.save_as(stored, enforce_file_format=True)
    assert b"Doe^John" in stored.read_bytes()

    out = io.StringIO()
    call_command("deidentify_stored_dicom", stdout=out)

    raw = b"".join(p.read_bytes() for p in media_files(media_root))
    for needle in IDENTIFYING:
        assert needle not in raw, needle
    assert "1 stored DICOM copies de-identified again" in out.getvalue()
    assert f"review or delete them: {video.pk}" in out.getvalue()
    assert dicom_copies_deidentify().rewritten == 0  # already done: nothing to rewrite
