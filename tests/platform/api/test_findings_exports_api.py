"""Video findings through the export and import endpoints: every format, role filtering, the PostgreSQL
path's parity, and findings rows in a CSV import."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from annotations.models import VideoFinding, VideoScore
from annotations.services import frame_contours_write, video_findings_write

pytestmark = pytest.mark.django_db
SQUARE = [[5, 5], [25, 5], [25, 25], [5, 25]]


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def found(world):
    frame_contours_write(user=world.ann_a, frame=world.frames(world.v1)[0], base=[],
                         contours=[{"segmentation_class": 3, "vertices": SQUARE}])
    video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "b_lines", "present": True},
                                                                  {"finding": "effusion", "present": False}])
    video_findings_write(user=world.ann_b, video=world.v1, items=[{"finding": "b_lines", "present": False}])
    video_findings_write(user=world.clinician, video=world.v1, items=[{"finding": "b_lines", "present": True}])
    video_findings_write(user=world.clinician, video=world.v2, items=[{"finding": "a_lines", "present": True}])
    VideoScore.objects.filter(annotator=world.clinician).update(comment="broken pleura line,\nsmall consolidations")
    return world


def test_csv_and_jsonl_rows_of_findings_respect_roles(found):
    rows = list(csv.DictReader(io.StringIO(body(found.client(found.clinician).get("/api/exports/?format=csv"))
                                           .decode())))
    findings = [r for r in rows if r["label_type"] == "video_finding"]
    assert len(findings) == VideoFinding.objects.count() == 5
    assert {(r["annotator"], r["video_id"], r["finding"], r["present"]) for r in findings} == {
        ("ann-a", str(found.v1.pk), "b_lines", "true"), ("ann-a", str(found.v1.pk), "effusion", "false"),
        ("ann-b", str(found.v1.pk), "b_lines", "false"), ("doc", str(found.v1.pk), "b_lines", "true"),
        ("doc", str(found.v2.pk), "a_lines", "true")}
    (score,) = [r for r in rows if r["label_type"] == "video_score"]
    assert score["comment"] == "broken pleura line,\r\nsmall consolidations"
    mine = [json.loads(line) for line in body(found.client(found.ann_a).get("/api/exports/?format=jsonl"))
            .decode().splitlines()]
    assert {(o["finding"], o["present"]) for o in mine if o["label_type"] == "video_finding"} == {
        ("b_lines", True), ("effusion", False)}
    filtered = body(found.client(found.clinician).get("/api/exports/?format=jsonl&finding=effusion")).decode()
    assert [json.loads(x)["annotator"] for x in filtered.splitlines()
            if json.loads(x)["label_type"] == "video_finding"] == ["ann-a"]


def test_postgres_and_python_writers_agree_on_findings_and_comments(found):
    from exchange import pg_export
    from exchange.formats import write_csv, write_jsonl
    from exchange.selectors import LABEL_TYPES, label_rows

    def parsed(data: bytes) -> list[dict]:
        rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
        for row in rows:  # JSON spacing differs between the paths
            row["vertices"] = json.loads(row["vertices"]) if row["vertices"] else None
        return rows

    fast = parsed(b"".join(pg_export.csv_stream(found.clinician, {}, LABEL_TYPES)))
    slow = parsed(b"".join(write_csv(label_rows(found.clinician, {}))))
    assert fast == slow and any(r["present"] == "false" for r in fast) and any("\r\n" in r["comment"] for r in fast)
    fast_lines = [json.loads(x) for x in b"".join(pg_export.jsonl_stream(found.clinician, {}, LABEL_TYPES))
                  .splitlines()]
    slow_lines = [json.loads(x) for x in b"".join(write_jsonl(label_rows(found.clinician, {}))).splitlines()]
    assert fast_lines == slow_lines and any(o["present"] is False for o in fast_lines)


def test_image_formats_carry_the_findings_of_their_videos(found, tmp_path):
    client = found.client(found.clinician)
    coco = json.loads(body(client.get("/api/exports/?format=coco")))
    assert {(f["annotator"], f["finding"], f["present"]) for f in coco["video_findings"]} == {
        ("ann-a", "b_lines", True), ("ann-a", "effusion", False), ("ann-b", "b_lines", False),
        ("doc", "b_lines", True)}  # v2 has no exported frame
    for fmt in ("labelme", "masks"):
        archive = zipfile.ZipFile(io.BytesIO(body(client.get(f"/api/exports/?format={fmt}"))))
        assert len(json.loads(archive.read("findings.json"))) == 4
    blind = json.loads(body(found.client(found.ann_a).get("/api/exports/?format=coco")))
    assert {f["annotator"] for f in blind["video_findings"]} == {"ann-a"}


def test_manifest_rows_carry_the_consensus_findings(found):
    lines = [json.loads(x) for x in body(found.client(found.clinician).get("/api/exports/?format=manifest"))
             .decode().splitlines()]
    v1_rows = [row for row in lines if row["video"] == str(found.v1.pk)]
    assert v1_rows and all(row["finding_b_lines"] == 1 and row["finding_effusion"] == 0 for row in v1_rows)
    mine = [json.loads(x) for x in body(found.client(found.ann_b).get("/api/exports/?format=manifest"))
            .decode().splitlines()]
    assert mine and all(row["finding_b_lines"] == 0 and "finding_effusion" not in row for row in mine)


def test_csv_import_of_findings_is_validated_and_atomic(world):
    client = world.client(world.admin)
    good = (f"video_id,annotator,finding,present\n{world.v1.pk},ann-b,b_lines,true\n"
            f"{world.v1.pk},ann-b,white_lung,false\n{world.v2.pk},ann-a,consolidation,yes\n")
    response = client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(good.encode())}, format="multipart")
    assert response.status_code == 201 and response.json()["video_findings"] == 3
    assert set(VideoFinding.objects.values_list("annotator__username", "finding__code", "present")) == {
        ("ann-b", "b_lines", True), ("ann-b", "white_lung", False), ("ann-a", "consolidation", True)}
    before = list(VideoFinding.objects.values_list("id", "present", "version"))
    bad = f"video_id,annotator,finding,present\n{world.v1.pk},ann-b,b_lines,false\n{world.v1.pk},ann-b,nodules,true\n"
    refused = client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(bad.encode())}, format="multipart")
    assert refused.status_code == 400 and "nothing was imported" in refused.json()["detail"]
    assert list(VideoFinding.objects.values_list("id", "present", "version")) == before
    unknown = "video_id,finding,present\n999999,b_lines,true\n"
    assert client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(unknown.encode())},
                       format="multipart").status_code == 400
    round_trip = body(world.client(world.clinician).get("/api/exports/?format=csv"))
    VideoFinding.objects.all().delete()
    again = client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(round_trip)}, format="multipart")
    assert again.status_code == 201 and again.json()["video_findings"] == 3 == VideoFinding.objects.count()


@pytest.mark.parametrize("fmt", ["coco", "labelme"])
def test_coco_and_labelme_exports_import_their_findings_back(found, fmt):
    from annotations.models import Contour

    exported = body(found.client(found.clinician).get(f"/api/exports/?format={fmt}"))
    before = set(VideoFinding.objects.filter(video=found.v1).values_list("annotator__username", "finding__code",
                                                                         "present"))
    assert len(before) == 4
    VideoFinding.objects.all().delete()
    Contour.objects.all().delete()
    upload = io.BytesIO(exported)
    upload.name = f"export.{'zip' if fmt == 'labelme' else 'json'}"
    response = found.client(found.admin).post("/api/imports/", {"format": fmt, "file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["video_findings"] == 4 and response.json()["contours"] == 1
    assert set(VideoFinding.objects.values_list("annotator__username", "finding__code", "present")) == before
