"""LabelMe ZIP imports (issue 16, item 11): a ZIP bomb once took 24 s, 1 GiB of disk and 2.75 GB of memory
before its 400; now it is a JSON 400 from the central directory alone, and a real export still imports."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from annotations.models import Contour
from annotations.services import frame_contours_write

pytestmark = pytest.mark.django_db
MiB = 1 << 20


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_labelme_zip_bomb_is_a_fast_json_400(world, monkeypatch):
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
          archive.open(f"{world.v1.pk}/0.json", "w") as member):
        for _ in range(256):
            member.write(bytes(MiB))  # 256 MiB of zeros in ~1 MB
    inflated: list[str] = []
    original = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, mode="r", *a, **k: (
        inflated.append(str(name)) if mode == "r" else None, original(self, name, mode, *a, **k))[1])
    tracemalloc.start()
    response = world.client(world.admin).post("/api/imports/", {"format": "labelme", "file": io.BytesIO(
        buffer.getvalue())}, format="multipart")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "ZIP bomb" in response.json()["detail"], response.json()
    assert inflated == [] and peak < 16 * MiB  # nothing inflated; the upload itself is ~1 MB


def test_a_labelme_export_imports_back_without_inflating_its_frames(world, monkeypatch):
    frame = world.frames(world.v1)[0]
    frame_contours_write(user=world.ann_a, frame=frame, base=[],
                         contours=[{"segmentation_class": 3, "vertices": [[5, 5], [25, 5], [25, 25], [5, 25]]}])
    exported = body(world.client(world.admin).get("/api/exports/?format=labelme"))
    assert any(n.endswith(".png") for n in zipfile.ZipFile(io.BytesIO(exported)).namelist())
    Contour.objects.all().delete()
    response = world.client(world.admin).post("/api/imports/", {"format": "labelme", "file": io.BytesIO(exported)},
                                              format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["contours"] == 1 and Contour.objects.get().annotator == world.ann_a
