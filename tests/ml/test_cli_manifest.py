"""`python -m ml.manifest`: a manifest from a COVID-BLUeS-layout folder (tiny generated videos) and the
patient-level split."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.data import ManifestRow, read_manifest, rows_train_test_split, video_frame_count
from ml.manifest import main as manifest_main

# patient -> (points, score, A-lines, B-lines)
PATIENTS = {
    "3": (("L1", "R2"), 0, "yes", "no"),
    "10": (("L1", "L2"), 1, "yes", "no "),  # trailing space, as in the real severity.csv
    "12": (("R1", "R3"), 2, "no", "yes"),
    "40": (("L1", "R1"), 3, "", "yes"),  # A-lines left blank
}
FRAMES = 5


def _video(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 32), True)
    for _ in range(FRAMES):
        writer.write(cv2.cvtColor(rng.integers(0, 255, (32, 32), dtype=np.uint8), cv2.COLOR_GRAY2BGR))
    writer.release()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blues")
    (root / "lus_videos").mkdir()
    lines = ["video_file,Severity Score,A-lines,B-lines,comments"]
    for i, (patient, (points, score, a, b)) in enumerate(PATIENTS.items()):
        for j, point in enumerate(points):
            name = f"patient_{patient}_{point}"
            _video(root / "lus_videos" / f"{name}.mp4", 10 * i + j)
            lines.append(f'{name},{score}.0,{a},{b},"a comment, with a comma"')
    _video(root / "lus_videos" / "patient_3_L1_2.mp4", 99)  # a second clip of a point, no severity row
    _video(root / "lus_videos" / "notes.mp4", 98)  # names no patient
    lines.append("patient_77_L1,1.0,yes,yes,")  # a row without a video
    (root / "severity.csv").write_text("\n".join(lines) + "\n")
    return root


def test_build_writes_one_row_per_kept_frame_with_the_video_score(folder: Path, tmp_path: Path, capsys):
    out = tmp_path / "m" / "frames.jsonl"
    assert manifest_main([str(folder), "--frame-step", "2", "--out", str(out)]) == 0
    rows = read_manifest(out)
    assert len(rows) == 8 * 3  # 8 scored videos, frames 0, 2, 4
    assert {r.frame for r in rows} == {0, 2, 4}
    by_video = {r.video: r for r in rows}
    assert set(by_video) == {f"patient_{p}_{pt}" for p, (points, *_) in PATIENTS.items() for pt in points}
    for patient, (points, score, a, b) in PATIENTS.items():
        for point in points:
            row = by_video[f"patient_{patient}_{point}"]
            assert row.patient == f"patient_{patient}" and row.score == score
            assert row.video_path == folder / "lus_videos" / f"patient_{patient}_{point}.mp4"
            assert row.extra["lung_zone"] == point
            assert row.extra["finding_b_lines"] == {"yes": 1, "no": 0}[b.strip()]
            assert row.extra.get("finding_a_lines") == {"yes": 1, "no": 0, "": None}[a]
    captured = capsys.readouterr()
    assert "4 patients, 8 videos, 24 frames" in captured.out
    for problem in ("notes.mp4", "patient_3_L1_2.mp4: no row", "patient_77_L1 has no video"):
        assert problem in captured.err
    # the manifest names the videos relative to itself when they share a folder below the root
    first = json.loads(out.read_text().splitlines()[0])
    assert not Path(first["video"]).is_absolute()


def test_build_subcommand_every_frame_and_max_patients(folder: Path, tmp_path: Path):
    out = tmp_path / "m.jsonl"
    assert manifest_main(["build", str(folder), "--out", str(out), "--max-patients", "2"]) == 0
    rows = read_manifest(out)
    assert {r.patient for r in rows} == {"patient_3", "patient_10"}  # numeric order, not text order
    assert len(rows) == 4 * FRAMES and video_frame_count(rows[0].source) == FRAMES


def test_build_reports_a_wrong_folder_without_traceback(tmp_path: Path, capsys):
    assert manifest_main([str(tmp_path), "--out", str(tmp_path / "m.jsonl")]) == 2
    assert "severity.csv not found" in capsys.readouterr().err


def test_split_is_patient_level_complete_and_repeatable(folder: Path, tmp_path: Path, capsys):
    manifest = tmp_path / "all.jsonl"
    assert manifest_main([str(folder), "--frame-step", "2", "--out", str(manifest)]) == 0
    outs = []
    for run in ("a", "b"):
        train, test = tmp_path / run / "train.jsonl", tmp_path / run / "test.jsonl"
        assert manifest_main(["split", str(manifest), "--test-fraction", "0.5", "--seed", "3",
                              "--out-train", str(train), "--out-test", str(test)]) == 0
        outs.append((train.read_text(), test.read_text()))
    assert outs[0] == outs[1]
    train_rows = read_manifest(tmp_path / "a" / "train.jsonl")
    test_rows = read_manifest(tmp_path / "a" / "test.jsonl")
    assert {r.patient for r in train_rows}.isdisjoint({r.patient for r in test_rows})
    assert len({r.patient for r in test_rows}) == 2
    assert sorted(r.key for r in train_rows + test_rows) == sorted(r.key for r in read_manifest(manifest))
    assert all(r.extra["lung_zone"] for r in train_rows + test_rows)  # extra columns survive
    assert "train: 2 patients" in capsys.readouterr().out


def test_rows_split_is_stratified_by_patient_max_score():
    rows = [ManifestRow(patient=f"p{i}", video=f"v{i}", score=s, image=Path(f"{i}.png"))
            for i, s in enumerate([0, 0, 0, 0, 3, 3, 3, 3])]
    rows.append(ManifestRow(patient="p0", video="v0", score=None, image=Path("x.png")))
    for seed in range(5):
        train, test = rows_train_test_split(rows, 0.5, seed)
        assert sorted(r.score for r in test if r.score is not None) == [0, 0, 3, 3]
        assert len(train) + len(test) == len(rows)
