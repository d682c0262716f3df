"""Exports in every format (COCO checked with pycocotools) and imports through the API's validation."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from pycocotools.coco import COCO

from annotations.models import Contour, FrameScore, VideoScore
from annotations.services import frame_contours_write
from exchange.models import ExportJob

pytestmark = pytest.mark.django_db
SQUARE = [[5, 5], [25, 5], [25, 25], [5, 25]]


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def contoured(world):
    frame = world.frames(world.v1)[0]
    frame_contours_write(user=world.ann_a, frame=frame, base=[],
                         contours=[{"segmentation_class": 3, "vertices": SQUARE}])
    return frame


def test_csv_and_jsonl_have_one_row_per_visible_label(world, contoured):
    client = world.client(world.clinician)
    response = client.get("/api/exports/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    expected = FrameScore.objects.count() + VideoScore.objects.count() + Contour.objects.count()
    assert len(rows) == expected == int(response["X-Label-Count"])
    assert {"patient", "video_id", "frame_index", "annotator", "validation_level"} <= set(rows[0])

    lines = body(client.get("/api/exports/?format=jsonl&label_type=frame_score")).decode().splitlines()
    assert all(json.loads(line)["annotator"] for line in lines) and len(lines) == expected


def test_exports_respect_blind_annotation_and_filters(world, contoured):
    rows = body(world.client(world.ann_a).get("/api/exports/?format=jsonl")).decode().splitlines()
    assert {json.loads(r)["annotator"] for r in rows} == {"ann-a"}
    filtered = body(world.client(world.clinician).get(f"/api/exports/?format=jsonl&annotator={world.ann_b.pk}"))
    assert {json.loads(r)["annotator"] for r in filtered.decode().splitlines()} == {"ann-b"}
    bad = world.client(world.clinician).get("/api/exports/?format=jsonl&annotator=abc")
    assert bad.status_code == 400
    assert world.client(world.clinician).get("/api/exports/?format=docx").status_code == 400


def test_coco_export_loads_in_pycocotools(world, contoured, tmp_path):
    response = world.client(world.clinician).get("/api/exports/?format=coco")
    path = tmp_path / "coco.json"
    path.write_bytes(body(response))
    coco = COCO(str(path))
    (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=[contoured.pk]))
    mask = coco.annToMask(annotation)
    assert annotation["category_id"] == 3 and mask.shape == (48, 64)
    assert 350 < mask.sum() < 500  # the 20×20 square
    assert {c["id"] for c in coco.loadCats(coco.getCatIds())} == {1, 2, 3, 4}


def test_masks_zip_has_frames_and_one_mask_per_annotator(world, contoured):
    import cv2

    archive = zipfile.ZipFile(io.BytesIO(body(world.client(world.clinician).get("/api/exports/?format=masks"))))
    names = archive.namelist()
    mask_name = next(n for n in names if n.startswith("masks/ann-a/"))
    mask = cv2.imdecode(np.frombuffer(archive.read(mask_name), np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask[15, 15] == 3 and mask[40, 50] == 0
    assert any(n.startswith("frames/") for n in names)


def test_labelme_and_manifest_exports(world, contoured):
    archive = zipfile.ZipFile(io.BytesIO(body(world.client(world.clinician).get("/api/exports/?format=labelme"))))
    document = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith(".json") and "/" in n)))
    assert document["shapes"][0]["shape_type"] == "polygon" and len(document["shapes"][0]["points"]) == 4
    manifest = body(world.client(world.clinician).get("/api/exports/?format=manifest")).decode().splitlines()
    assert len(manifest) == FrameScore.objects.count()
    assert {"image", "score", "patient", "video"} <= set(json.loads(manifest[0]))


def test_large_exports_become_jobs_with_a_download_link(world, settings, django_capture_on_commit_callbacks):
    settings.PLEURA_EXPORT_STREAM_LIMIT = 2
    client = world.client(world.clinician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.get("/api/exports/?format=csv")
    assert response.status_code == 202 and len(callbacks) == 1
    from exchange.services import export_job_run

    job = export_job_run(job_id=response.json()["id"])
    detail = client.get(f"/api/exports/jobs/{job.pk}/").json()
    assert detail["status"] == "succeeded" and detail["download"]
    download = client.get(detail["download"])
    content = body(download)
    assert download.status_code == 200 and content.startswith(b"label_type")
    assert detail["bytes_written"] == len(content) and detail["rows"] == len(content.splitlines()) - 1
    assert world.client(world.ann_a).get(f"/api/exports/jobs/{job.pk}/").status_code == 404  # someone else's
    assert ExportJob.objects.count() == 1


def test_csv_score_import_is_validated_and_atomic(world):
    frames = world.frames(world.v1)
    client = world.client(world.admin)
    good = f"frame_id,annotator,score\n{frames[2].pk},ann-b,1\n{frames[1].pk},ann-b,2\n"
    response = client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(good.encode())}, format="multipart")
    assert response.status_code == 201 and response.json()["frame_scores"] == 2
    assert FrameScore.objects.get(annotator=world.ann_b, frame=frames[2]).score == 1

    before = FrameScore.objects.count()
    bad = f"frame_id,annotator,score\n{frames[0].pk},ann-b,1\n{frames[1].pk},ann-b,9\n"
    refused = client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(bad.encode())}, format="multipart")
    assert refused.status_code == 400 and FrameScore.objects.count() == before
    unknown = "frame_id,annotator,score\n999999,ann-b,1\n"
    assert client.post("/api/imports/", {"format": "csv", "file": io.BytesIO(unknown.encode())},
                       format="multipart").status_code == 400


def test_coco_round_trip_import(world, contoured, tmp_path):
    exported = body(world.client(world.clinician).get("/api/exports/?format=coco"))
    Contour.objects.all().delete()
    response = world.client(world.admin).post("/api/imports/", {"format": "coco", "file": io.BytesIO(exported)},
                                              format="multipart")
    assert response.status_code == 201, response.json()
    contour = Contour.objects.get()
    assert contour.annotator == world.ann_a and contour.segmentation_class.index == 3


def test_postgres_formatted_exports_match_the_python_writers(world, contoured):
    from exchange import pg_export
    from exchange.formats import write_csv, write_jsonl
    from exchange.selectors import LABEL_TYPES, label_rows

    assert pg_export.supported()

    def parsed_csv(data: bytes) -> list[dict]:
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        for row in rows:
            row["vertices"] = json.loads(row["vertices"]) if row["vertices"] else None
        return rows

    fast = parsed_csv(b"".join(pg_export.csv_stream(world.clinician, {}, LABEL_TYPES)))
    slow = parsed_csv(b"".join(write_csv(label_rows(world.clinician, {}))))
    assert fast == slow and any(row["vertices"] for row in fast)
    fast_lines = [json.loads(line) for line in b"".join(pg_export.jsonl_stream(world.clinician, {}, LABEL_TYPES)).splitlines()]
    slow_lines = [json.loads(line) for line in b"".join(write_jsonl(label_rows(world.clinician, {}))).splitlines()]
    assert fast_lines == slow_lines


def test_csv_exports_neutralise_formulas(world, contoured):
    """A site named like a spreadsheet formula came back verbatim (OWASP CSV injection): both CSV writers
    prefix such free-text cells with a quote; JSON Lines keeps the value as it is."""
    from exchange import pg_export
    from exchange.formats import write_csv
    from exchange.selectors import LABEL_TYPES, label_rows
    from studies.models import Site, Video

    formula = "=cmd|' /C calc'!A0"
    Site.objects.update(name=formula)
    Video.objects.update(original_name="+SUM(A1:A2).mp4")
    for data in (b"".join(pg_export.csv_stream(world.clinician, {}, LABEL_TYPES)),
                 b"".join(write_csv(label_rows(world.clinician, {})))):
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert rows and {row["site"] for row in rows} == {"'" + formula}
        assert {row["video_name"] for row in rows} == {"'+SUM(A1:A2).mp4"}
        assert all(not row["annotator"].startswith(("=", "+", "-", "@")) for row in rows)
    lines = [json.loads(line) for line in b"".join(pg_export.jsonl_stream(world.clinician, {}, LABEL_TYPES)).splitlines()]
    assert {line["site"] for line in lines} == {formula}
