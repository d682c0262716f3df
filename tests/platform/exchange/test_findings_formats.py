"""Video findings in every export format (rows of label type video_finding, COCO's video_findings, the
ZIPs' findings.json, the manifest's finding_<code> columns) and in the score-CSV import."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from exchange.formats import (
    DEFAULT_CLASS_NAMES,
    FindingRecord,
    FormatError,
    read_score_csv,
    write_coco,
    write_csv,
    write_jsonl,
    write_labelme_zip,
    write_manifest,
    write_masks_zip,
)
from tests.platform.exchange.test_formats import (
    CATEGORIES,
    SQUARE,
    frame_ref,
    join,
    label,
    load_ml_manifest_module,
)


def findings() -> list[dict]:
    return [label("video_finding", label_id=30, video_id=7, finding="b_lines", present=True),
            label("video_finding", label_id=31, video_id=7, finding="effusion", present=False, annotator="bob"),
            label("video_finding", label_id=32, video_id=99, finding="a_lines", present=True)]


def test_csv_and_jsonl_carry_findings_as_rows() -> None:
    rows = [label("video_score", label_id=2, comment="broken pleura,\nB-lines"), *findings()]
    back = list(csv.DictReader(io.StringIO(join(write_csv(rows)).decode(), newline="")))
    assert [(r["label_type"], r["finding"], r["present"], r["score"]) for r in back] == [
        ("video_score", "", "", "2"), ("video_finding", "b_lines", "true", ""),
        ("video_finding", "effusion", "false", ""), ("video_finding", "a_lines", "true", "")]
    assert back[0]["comment"] == "broken pleura,\r\nB-lines"  # CRLF inside the cell, like the PostgreSQL path
    objects = [json.loads(line) for line in join(write_jsonl(rows)).splitlines()]
    assert [(o["finding"], o["present"], o["comment"]) for o in objects] == [
        (None, None, "broken pleura,\nB-lines"), ("b_lines", True, None), ("effusion", False, None),
        ("a_lines", True, None)]


def test_findings_of_a_csv_export_read_back() -> None:
    rows = [label(label_id=1, frame_id=100, score=1), label("video_score", label_id=3, video_id=8, score=0),
            *findings(), label("contour", label_id=4)]
    records = read_score_csv(io.BytesIO(join(write_csv(rows))))
    assert [(r.frame, r.video_id, r.score) for r in records] == [(100, None, 1), (None, 8, 0)]
    assert records.findings == [FindingRecord(7, "alice", "b_lines", True), FindingRecord(7, "bob", "effusion", False),
                                FindingRecord(99, "alice", "a_lines", True)]


def test_a_findings_only_table_and_its_problems() -> None:
    good = "video_id;annotator;finding;present\n3;ann;B_lines;yes\n3;ann;effusion;0\n4;;consolidation;TRUE\n"
    records = read_score_csv(io.BytesIO(good.encode()))
    assert list(records) == [] and [(f.video_id, f.annotator, f.finding, f.present) for f in records.findings] == [
        (3, "ann", "b_lines", True), (3, "ann", "effusion", False), (4, None, "consolidation", True)]
    bad = ("video_id,finding,present,annotator\n3,b_lines,maybe,ann\n,b_lines,true,ann\n3,B lines!,true,ann\n"
           "5,b_lines,true,ann\n5,b_lines,false,ann\n")
    with pytest.raises(FormatError) as error:
        read_score_csv(io.BytesIO(bad.encode()))
    assert error.value.problems == [
        ("line 2", "present 'maybe' is not true or false"),
        ("line 3", "a finding needs video_id"),
        ("line 4", "finding 'B lines!' is not a finding code (e.g. b_lines)"),
        ("line 6", "a second b_lines finding for video 5 by ann (first on line 5)"),
    ]


def test_coco_carries_the_findings_of_its_videos(tmp_path: Path) -> None:
    frames = [frame_ref(tmp_path, 100, video_id=7)]
    contours = [label("contour", label_id=10, frame_id=100, segmentation_class=1, vertices=SQUARE)]
    path = tmp_path / "coco.json"
    path.write_bytes(join(write_coco(frames, contours, categories=CATEGORIES, video_findings=iter(findings()))))
    document = json.loads(path.read_text())
    assert [(f["video_id"], f["annotator"], f["finding"], f["present"]) for f in document["video_findings"]] == [
        (7, "alice", "b_lines", True), (7, "bob", "effusion", False)]  # video 99 has no image here
    assert set(document["video_findings"][0]) == {"video_id", "video_name", "patient", "annotator",
                                                  "validation_level", "finding", "present"}
    assert len(COCO(str(path)).getAnnIds()) == 1  # COCO tools ignore the extra key
    without = json.loads(join(write_coco(frames, contours, categories=CATEGORIES)))
    assert "video_findings" not in without


@pytest.mark.parametrize("archive", ["labelme", "masks"])
def test_zips_carry_findings_json(tmp_path: Path, archive: str) -> None:
    frame = frame_ref(tmp_path, 100, video_id=7)
    contour = label("contour", label_id=10, frame_id=100, segmentation_class=1, vertices=SQUARE)
    if archive == "labelme":
        data = join(write_labelme_zip([(frame, [contour])], class_names=DEFAULT_CLASS_NAMES,
                                      video_findings=iter(findings())))
    else:
        data = join(write_masks_zip([(frame, {"alice": [contour]})], video_findings=iter(findings())))
    members = zipfile.ZipFile(io.BytesIO(data))
    records = json.loads(members.read("findings.json"))
    assert [(r["video_id"], r["finding"], r["present"]) for r in records] == [(7, "b_lines", True),
                                                                              (7, "effusion", False)]


def test_manifest_has_finding_columns_where_known(tmp_path: Path) -> None:
    rows = [label(score=1, video_id=7), label(label_id=4, video_id=12, frame_index=130, score=3)]
    lines = join(write_manifest(iter(rows), findings={7: {"b_lines": True, "a_lines": False}})).splitlines()
    objects = [json.loads(line) for line in lines]
    assert {k: v for k, v in objects[0].items() if k.startswith("finding_")} == {"finding_a_lines": 0,
                                                                                 "finding_b_lines": 1}
    assert not any(k.startswith("finding_") for k in objects[1])
    parsed = load_ml_manifest_module().parse_row(objects[0], base=tmp_path)
    assert parsed.extra["finding_b_lines"] == 1 and parsed.score == 1


def test_coco_and_labelme_findings_read_back(tmp_path: Path) -> None:
    from exchange.formats import read_coco_findings, read_labelme_findings

    frames = [frame_ref(tmp_path, 100, video_id=7)]
    contours = [label("contour", label_id=10, frame_id=100, segmentation_class=1, vertices=SQUARE)]
    expected = [FindingRecord(7, "alice", "b_lines", True), FindingRecord(7, "bob", "effusion", False)]
    coco = tmp_path / "coco.json"
    coco.write_bytes(join(write_coco(frames, contours, categories=CATEGORIES, video_findings=iter(findings()))))
    assert read_coco_findings(coco) == expected
    coco.write_bytes(join(write_coco(frames, contours, categories=CATEGORIES)))
    assert read_coco_findings(coco) == []  # no video_findings key: none
    data = join(write_labelme_zip([(frames[0], [contours[0]])], class_names=DEFAULT_CLASS_NAMES,
                                  video_findings=iter(findings())))
    folder = tmp_path / "labelme"
    zipfile.ZipFile(io.BytesIO(data)).extractall(folder)
    assert read_labelme_findings(folder) == expected
    assert read_labelme_findings(tmp_path / "nowhere") == []


def test_finding_lists_report_every_problem(tmp_path: Path) -> None:
    from exchange.formats import read_coco_findings, read_labelme_findings

    bad = {"images": [], "annotations": [], "categories": [], "video_findings": [
        {"video_id": 0, "finding": "b_lines", "present": True}, {"video_id": 3, "finding": "B lines!", "present": True},
        {"video_id": 3, "finding": "b_lines", "present": "yes"}, "x",
        {"video_id": 3, "finding": "b_lines", "present": True, "annotator": "ann"},
        {"video_id": 3, "finding": "B_LINES", "present": False, "annotator": "ann"}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(FormatError) as error:
        read_coco_findings(path)
    assert error.value.problems == [
        ("video_findings[0]", "video_id 0 is below 1"),
        ("video_findings[1]", "finding 'B lines!' is not a finding code (e.g. b_lines)"),
        ("video_findings[2]", "present 'yes' is not true or false"),
        ("video_findings[3]", "must be an object"),
        ("video_findings[5]", "a second B_LINES finding for video 3 by ann (first at video_findings[4])"),
    ]
    (tmp_path / "findings.json").write_text('{"not": "a list"}')
    with pytest.raises(FormatError, match="must be a list"):
        read_labelme_findings(tmp_path)
    (tmp_path / "findings.json").write_text("[" * 100_000)
    with pytest.raises(FormatError):
        read_labelme_findings(tmp_path)
