"""The COVID-BLUeS import on a few real videos: patients, videos, expert scores, re-runs, bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.models import VideoFinding, VideoScore
from exchange.covid_blues import EXPERT_USERNAME, covid_blues_import, findings_in_comment, read_severity
from studies.models import CovidStatus, Frame, Patient, Video

pytestmark = pytest.mark.django_db

PICK = ["patient_10_L1", "patient_10_R2", "patient_11_L1"]
COMMENTED = ["patient_62_R1", "patient_13_L3", "patient_25_R3"]  # rows whose comments name findings


def mini_dataset(dev_data: Path, root: Path, stems: list[str], extra_files: dict[str, bytes] | None = None) -> Path:
    (root / "lus_videos").mkdir(parents=True)
    for stem in stems:
        (root / "lus_videos" / f"{stem}.mp4").symlink_to(dev_data / "lus_videos" / f"{stem}.mp4")
    for name, data in (extra_files or {}).items():
        (root / "lus_videos" / name).write_bytes(data)
    with (dev_data / "severity.csv").open(newline="") as src, (root / "severity.csv").open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(row for row in reader if row["video_file"].strip() in stems)
    wanted = {stem.split("_")[1] for stem in stems}
    with (dev_data / "clinical_variables.csv").open(newline="") as src, \
            (root / "clinical_variables.csv").open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(row for row in reader if row["patient_id"].strip() in wanted)
    return root


def test_import_creates_patients_videos_and_expert_scores(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", PICK)
    severity = read_severity(dev_data / "severity.csv")

    summary = covid_blues_import(root=root, workers=2)

    assert summary.errors == []
    assert (summary.patients, summary.videos_created) == (2, 3)
    assert summary.findings_written == 6 == VideoFinding.objects.count()
    assert Patient.objects.count() == 2 and Video.objects.count() == 3
    assert Frame.objects.count() == summary.frames_created > 200
    for stem in PICK:
        video = Video.objects.get(original_name=f"{stem}.mp4")
        score = VideoScore.objects.get(video=video)
        assert score.annotator.username == EXPERT_USERNAME and score.validation_level == 4
        assert score.score == severity[stem].score
        assert score.b_lines == severity[stem].b_lines
        assert score.comment == severity[stem].comment
        findings = dict(VideoFinding.objects.filter(video=video).values_list("finding__code", "present"))
        assert findings == {"a_lines": severity[stem].a_lines, "b_lines": severity[stem].b_lines}
        assert set(VideoFinding.objects.filter(video=video).values_list("annotator__username", "validation_level",
                                                                        "source")) == {(EXPERT_USERNAME, 4, "human")}
        assert video.lung_zone == stem.rsplit("_", 1)[1] and video.probe == "convex"
        assert video.exam.patient.code == "_".join(stem.split("_")[:2])
    patient = Patient.objects.get(code="patient_10")
    assert patient.covid_status in (CovidStatus.POSITIVE, CovidStatus.NEGATIVE)
    assert "pat_age" in patient.clinical_variables


def test_reimport_adds_nothing(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", PICK[:2])
    covid_blues_import(root=root)
    counts = (Patient.objects.count(), Video.objects.count(), Frame.objects.count(), VideoScore.objects.count())
    findings = sorted(VideoFinding.objects.values_list("video_id", "finding__code", "present", "version"))

    summary = covid_blues_import(root=root)

    assert (summary.videos_created, summary.videos_existing) == (0, 2)
    assert counts == (Patient.objects.count(), Video.objects.count(), Frame.objects.count(),
                      VideoScore.objects.count())
    assert findings == sorted(VideoFinding.objects.values_list("video_id", "finding__code", "present", "version"))


def test_comments_become_findings_and_stay_on_the_score(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", COMMENTED)
    severity = read_severity(dev_data / "severity.csv")

    covid_blues_import(root=root)

    def findings(stem: str) -> dict[str, bool]:
        return dict(VideoFinding.objects.filter(video__original_name=f"{stem}.mp4")
                    .values_list("finding__code", "present"))

    # "broken pleura line, very small consolidated areas, B-lines" (A-lines yes, B-lines yes)
    assert findings("patient_62_R1") == {"a_lines": True, "b_lines": True, "irregular_pleura": True,
                                         "consolidation": True}
    # "no single B-lines, B-lines are fused together into the picture of a white lung" (A no, B no)
    assert findings("patient_13_L3") == {"a_lines": False, "b_lines": False, "white_lung": True}
    # "massive pleural effusion, this is not really covered by the scoring" (A no, B yes)
    assert findings("patient_25_R3") == {"a_lines": False, "b_lines": True, "effusion": True}
    for stem in COMMENTED:
        score = VideoScore.objects.get(video__original_name=f"{stem}.mp4")
        assert score.comment == severity[stem].comment != ""


def test_a_changed_csv_reimports_to_exactly_what_it_says(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", COMMENTED[:1])
    covid_blues_import(root=root)
    text = (root / "severity.csv").read_text()
    (root / "severity.csv").write_text(text.replace("broken pleura line, very small consolidated areas, B-lines",
                                                    "pleura line intact"))
    covid_blues_import(root=root)
    assert dict(VideoFinding.objects.values_list("finding__code", "present")) == {"a_lines": True, "b_lines": True}
    assert VideoScore.objects.get().comment == "pleura line intact"


@pytest.mark.parametrize(("comment", "expected"), [
    ("", set()),
    ("broken pleura line, consolidated areas, multiple B-lines", {"irregular_pleura", "consolidation"}),
    ("interrupted pleura line, multiple B-lines", {"irregular_pleura"}),
    ("thickened pleura line, B-lines, possible little subpleural consolidation", {"irregular_pleura"}),
    ("subpleural consolidation, subpleural effusion", {"consolidation", "effusion"}),
    ("Pleura line intact, little subpleural consolidations", {"consolidation"}),
    ("pleura line intact", set()),
    ("white lung? ", set()),
    ("broken pleura line, B-lines, white lung areal", {"irregular_pleura", "white_lung"}),
    ("no effusion; without consolidation", set()),
    ("liver on the right side while inspiration", set()),
    ("Fragmented pleura", {"irregular_pleura"}),
])
def test_findings_named_in_free_text(comment, expected):
    assert findings_in_comment(comment) == dict.fromkeys(expected, True)


def test_bad_file_is_reported_and_the_rest_imported(dev_data, tmp_path, capsys):
    root = mini_dataset(dev_data, tmp_path / "blues", PICK[:1],
                        extra_files={"patient_10_L2.mp4": b"this is not a video at all"})
    with pytest.raises(CommandError, match="1 file"):
        call_command("import_dataset", str(root), verbosity=0)
    captured = capsys.readouterr()
    assert "patient_10_L2.mp4: not a video" in captured.err
    assert "1 videos (1 new" in captured.out
    assert Video.objects.count() == 1


def test_not_a_dataset_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no lus_videos/ folder"):
        call_command("import_dataset", str(tmp_path), verbosity=0)


def test_import_assigns_every_video_to_the_named_users(dev_data, tmp_path, django_user_model):
    from accounts.models import Role
    from studies.models import VideoAssignment

    ann = django_user_model.objects.create_user("ann", password="x", role=Role.ANNOTATOR)
    val = django_user_model.objects.create_user("val", password="x", role=Role.VALIDATOR)
    root = mini_dataset(dev_data, tmp_path / "blues", PICK[:2])
    call_command("import_dataset", str(root), "--assign", "ann,val", verbosity=0)
    assert VideoAssignment.objects.filter(annotator=ann).count() == 2
    assert VideoAssignment.objects.filter(annotator=val).count() == 2
    call_command("import_dataset", str(root), "--assign", "ann", verbosity=0)  # a re-run adds nothing twice
    assert VideoAssignment.objects.count() == 4


def test_unknown_assignee_is_an_error_before_importing(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", PICK[:1])
    with pytest.raises(CommandError, match="no such user: nobody"):
        call_command("import_dataset", str(root), "--assign", "nobody", verbosity=0)
    assert Video.objects.count() == 0 and Patient.objects.count() == 0


def test_clinical_variables_are_optional(tmp_path, capsys):
    """A folder with videos and severity.csv but no clinical_variables.csv imports, with a warning."""
    from tests.platform.conftest import synthetic_frames, write_container

    root = tmp_path / "tiny"
    (root / "lus_videos").mkdir(parents=True)
    write_container(root / "lus_videos" / "patient_7_L1.mp4", synthetic_frames(n=4), "mp4v")
    (root / "severity.csv").write_text("video_file,Severity Score,A-lines,B-lines,comments\n"
                                       "patient_7_L1.mp4,2,0,1,\n")
    call_command("import_dataset", str(root), verbosity=0)
    captured = capsys.readouterr()
    assert "warning: no clinical_variables.csv" in captured.err
    assert "1 patients, 1 videos (1 new" in captured.out
    patient = Patient.objects.get(code="patient_7")
    assert patient.covid_status == CovidStatus.UNKNOWN and patient.clinical_variables == {}
    assert VideoScore.objects.get(video__exam__patient=patient).score == 2
