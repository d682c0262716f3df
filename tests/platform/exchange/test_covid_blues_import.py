"""The COVID-BLUeS import on a few real videos: patients, videos, expert scores, re-runs, bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.models import VideoScore
from exchange.covid_blues import EXPERT_USERNAME, covid_blues_import, read_severity
from studies.models import CovidStatus, Frame, Patient, Video

pytestmark = pytest.mark.django_db

PICK = ["patient_10_L1", "patient_10_R2", "patient_11_L1"]


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
    assert Patient.objects.count() == 2 and Video.objects.count() == 3
    assert Frame.objects.count() == summary.frames_created > 200
    for stem in PICK:
        video = Video.objects.get(original_name=f"{stem}.mp4")
        score = VideoScore.objects.get(video=video)
        assert score.annotator.username == EXPERT_USERNAME and score.validation_level == 4
        assert score.score == severity[stem].score
        assert score.b_lines == severity[stem].b_lines
        assert video.lung_zone == stem.rsplit("_", 1)[1] and video.probe == "convex"
        assert video.exam.patient.code == "_".join(stem.split("_")[:2])
    patient = Patient.objects.get(code="patient_10")
    assert patient.covid_status in (CovidStatus.POSITIVE, CovidStatus.NEGATIVE)
    assert "pat_age" in patient.clinical_variables


def test_reimport_adds_nothing(dev_data, tmp_path):
    root = mini_dataset(dev_data, tmp_path / "blues", PICK[:2])
    covid_blues_import(root=root)
    counts = (Patient.objects.count(), Video.objects.count(), Frame.objects.count(), VideoScore.objects.count())

    summary = covid_blues_import(root=root)

    assert (summary.videos_created, summary.videos_existing) == (0, 2)
    assert counts == (Patient.objects.count(), Video.objects.count(), Frame.objects.count(),
                      VideoScore.objects.count())


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
