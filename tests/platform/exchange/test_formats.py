"""Export writers: every format streams bytes chunks from plain rows, and reads back in its own tools."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from exchange.formats import (
    CHUNK_SIZE,
    DEFAULT_CLASS_NAMES,
    LABEL_COLUMNS,
    frame_image_name,
    labelme_document,
    read_labelme_folder,
    read_score_csv,
    tabular,
    write_coco,
    write_csv,
    write_jsonl,
    write_labelme_zip,
    write_manifest,
    write_masks_zip,
)
from exchange.formats import rows as rows_module
from ml.geometry import polygon_area, rasterise

REPO = Path(__file__).resolve().parents[3]
CATEGORIES = [(cid, name) for cid, name in DEFAULT_CLASS_NAMES.items() if cid]
SQUARE = [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]]
TRIANGLE = [[20.5, 5.25], [60.0, 40.0], [5.0, 44.75]]


def label(label_type: str = "frame_score", **overrides: Any) -> dict[str, Any]:
    """A LabelRow with plausible values; contours get a class and vertices, scores a score, findings a
    finding code and present."""
    row: dict[str, Any] = {
        "label_type": label_type, "label_id": 1, "site": "Hospital A", "patient": "P0001",
        "covid_status": "positive", "exam_id": 3, "video_id": 7, "video_name": "R1.mp4", "lung_zone": "R1",
        "probe": "convex", "frame_id": 100, "frame_index": 4, "width": 64, "height": 48,
        "annotator": "alice", "annotator_id": 2, "validation_level": 2, "source": "human", "score": 2,
        "finding": None, "present": None, "comment": None,
        "segmentation_class": None, "vertices": None, "version": 1,
        "created_at": "2024-05-01T10:00:00+00:00", "updated_at": "2024-05-02T11:30:00+00:00",
    }
    if label_type == "video_score":
        row.update(frame_id=None, frame_index=None, comment="")
    if label_type == "video_finding":
        row.update(frame_id=None, frame_index=None, score=None, finding="b_lines", present=True)
    if label_type == "contour":
        row.update(score=None, segmentation_class=2, vertices=SQUARE)
    row.update(overrides)
    return row


def frame_ref(tmp_path: Path, frame_id: int = 100, video_id: int = 7, frame_index: int = 4,
              width: int = 64, height: int = 48, noise: bool = False) -> dict[str, Any]:
    """A FrameRef with a real PNG on disk."""
    rng = np.random.default_rng(frame_id)
    pixels = rng.integers(0, 255, (height, width), dtype=np.uint8) if noise else np.full((height, width), 40, np.uint8)
    path = tmp_path / f"frame_{frame_id}.png"
    assert cv2.imwrite(str(path), pixels)
    return {"frame_id": frame_id, "video_id": video_id, "frame_index": frame_index, "width": width,
            "height": height, "patient": "P0001", "image_path": str(path),
            "image_name": frame_image_name(video_id, frame_index)}


def counted(rows: list[dict[str, Any]], seen: list[int]) -> Iterator[dict[str, Any]]:
    for row in rows:
        seen[0] += 1
        yield row


def join(chunks: Iterator[bytes]) -> bytes:
    parts = list(chunks)
    assert all(isinstance(part, bytes) and part for part in parts)
    return b"".join(parts)


def many_rows(n: int) -> list[dict[str, Any]]:
    kinds = ("frame_score", "video_score", "contour")
    return [label(kinds[k % 3], label_id=k, frame_id=None if k % 3 == 1 else 1000 + k) for k in range(n)]


def test_the_format_layer_does_not_import_django() -> None:
    """The ml side and offline scripts use these modules without settings; keep Django out."""
    code = ("import sys; sys.path[:0] = ['platform']; import exchange.formats, ml.geometry; "
            "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --- CSV / JSON Lines ------------------------------------------------------------------------------------


def test_csv_has_a_header_and_reads_back_with_the_csv_module() -> None:
    rows = [label(), label("video_score", label_id=2, score=3),
            label("contour", label_id=3, site='Hôpital "Nord", Lille', vertices=TRIANGLE)]
    text = join(write_csv(iter(rows))).decode("utf-8")
    assert text.startswith(",".join(LABEL_COLUMNS) + "\r\n")
    back = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["label_type"] for r in back] == ["frame_score", "video_score", "contour"]
    assert back[0]["vertices"] == "" and back[0]["segmentation_class"] == "" and back[0]["score"] == "2"
    assert back[1]["frame_id"] == "" and back[1]["frame_index"] == ""
    assert back[2]["site"] == 'Hôpital "Nord", Lille'
    assert json.loads(back[2]["vertices"]) == TRIANGLE
    assert list(back[0]) == list(LABEL_COLUMNS)


def test_csv_is_chunked_and_lazy() -> None:
    rows = many_rows(3000)
    seen = [0]
    chunks = write_csv(counted(rows, seen))
    first = next(chunks)
    assert CHUNK_SIZE <= len(first) < CHUNK_SIZE + 2048
    assert seen[0] < len(rows)  # the first chunk left before the input was exhausted
    rest = list(chunks)
    assert len(rest) >= 2 and seen[0] == len(rows)
    assert len(list(csv.reader(io.StringIO((first + b"".join(rest)).decode(), newline="")))) == len(rows) + 1


def test_csv_of_nothing_is_just_the_header() -> None:
    assert join(write_csv([])).decode() == ",".join(LABEL_COLUMNS) + "\r\n"


def test_scores_of_a_csv_export_read_back() -> None:
    rows = [label(label_id=1, frame_id=100, score=1), label(label_id=2, frame_id=101, annotator="bob", score=3),
            label("video_score", label_id=3, video_id=8, score=0), label("contour", label_id=4)]
    records = read_score_csv(io.BytesIO(join(write_csv(rows))))
    assert [(r.frame, r.video_id, r.annotator, r.score) for r in records] == [
        (100, None, "alice", 1), (101, None, "bob", 3), (None, 8, "alice", 0)]


def test_jsonl_is_strict_json_one_object_per_line() -> None:
    rows = [label(), label("contour", label_id=2, patient="Zoë/7")]
    lines = join(write_jsonl(rows)).decode("utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert [list(o) for o in objects] == [list(LABEL_COLUMNS)] * 2
    assert objects[0]["vertices"] is None and objects[1]["vertices"] == SQUARE
    assert objects[1]["patient"] == "Zoë/7"
    assert objects == [{k: r[k] for k in LABEL_COLUMNS} for r in rows]


def test_jsonl_refuses_nan() -> None:
    with pytest.raises(ValueError):
        join(write_jsonl([label("contour", vertices=[[0, 0], [float("nan"), 1], [2, 2]])]))


def test_jsonl_is_chunked_and_lazy() -> None:
    rows = many_rows(3000)
    seen = [0]
    chunks = write_jsonl(counted(rows, seen))
    first = next(chunks)
    assert len(first) >= CHUNK_SIZE and first.endswith(b"\n")
    assert seen[0] < len(rows)
    assert len((first + b"".join(chunks)).splitlines()) == len(rows)


def test_the_standard_library_encoder_gives_the_same_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = many_rows(30)
    fast_jsonl, fast_csv = join(write_jsonl(rows)), join(write_csv(rows))
    monkeypatch.setattr(tabular, "json_compact", rows_module._stdlib_compact())
    slow_jsonl, slow_csv = join(write_jsonl(rows)), join(write_csv(rows))
    assert [json.loads(x) for x in fast_jsonl.splitlines()] == [json.loads(x) for x in slow_jsonl.splitlines()]
    assert list(csv.reader(io.StringIO(fast_csv.decode()))) == list(csv.reader(io.StringIO(slow_csv.decode())))


@pytest.mark.parametrize("writer", [write_csv, write_jsonl])
def test_a_row_without_a_column_is_a_clear_error(writer) -> None:
    bad = label()
    del bad["probe"]
    with pytest.raises(ValueError, match="row 2 lacks the column 'probe'"):
        join(writer([label(), bad]))


# --- COCO ------------------------------------------------------------------------------------------------


def coco_fixture(tmp_path: Path) -> tuple[list[dict], list[dict], list[dict]]:
    frames = [frame_ref(tmp_path, 100, frame_index=4), frame_ref(tmp_path, 105, frame_index=9)]
    contours = [
        label("contour", label_id=11, frame_id=105, segmentation_class=4, vertices=TRIANGLE, annotator="bob"),
        label("contour", label_id=10, frame_id=100, segmentation_class=1, vertices=SQUARE),
        label("contour", label_id=12, frame_id=100, segmentation_class=3,
              vertices=[[40.0, 5.0], [60.0, 8.5], [55.0, 30.0], [42.0, 25.0]]),
    ]
    scores = [label(label_id=20, frame_id=100, score=1), label(label_id=21, frame_id=100, annotator="bob", score=2),
              label(label_id=22, frame_id=105, score=3, validation_level=4)]
    return frames, contours, scores


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools on numpy 2
def test_coco_loads_in_pycocotools_and_masks_match_our_rasteriser(tmp_path: Path) -> None:
    coco_module = pytest.importorskip("pycocotools.coco")
    frames, contours, scores = coco_fixture(tmp_path)
    path = tmp_path / "export.json"
    path.write_bytes(join(write_coco(iter(frames), iter(contours), categories=CATEGORIES,
                                     frame_scores=iter(scores))))
    coco = coco_module.COCO(str(path))
    assert sorted(coco.getImgIds()) == [100, 105]
    assert sorted(coco.getAnnIds()) == [10, 11, 12]
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == dict(CATEGORIES)
    image = coco.loadImgs(100)[0]
    assert image["file_name"] == "frames/7/000004.png" and (image["width"], image["height"]) == (64, 48)
    assert image["video_id"] == 7 and image["frame_index"] == 4 and image["patient"] == "P0001"
    assert image["scores"] == [{"annotator": "alice", "score": 1, "validation_level": 2},
                               {"annotator": "bob", "score": 2, "validation_level": 2}]
    for contour in contours:
        annotation = coco.loadAnns(contour["label_id"])[0]
        assert annotation["image_id"] == contour["frame_id"]
        assert annotation["category_id"] == contour["segmentation_class"]
        assert annotation["annotator"] == contour["annotator"] and annotation["iscrowd"] == 0
        assert annotation["area"] == pytest.approx(polygon_area(contour["vertices"]))
        xs, ys = zip(*contour["vertices"], strict=True)
        assert annotation["bbox"] == pytest.approx([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
        theirs = coco.annToMask(annotation).astype(bool)
        ours = rasterise({1: [contour["vertices"]]}, 48, 64).astype(bool)
        # Same polygon, two pixel conventions: the masks may differ only along the boundary.
        band = np.zeros((48, 64), np.uint8)
        cv2.polylines(band, [np.round(np.array(contour["vertices"]) * 16).astype(np.int32)], True, 1,
                      thickness=3, shift=4)
        assert not np.any((theirs != ours) & (band == 0))
        assert (theirs & ours).sum() / (theirs | ours).sum() > 0.8


def test_coco_without_frame_scores_has_no_scores_key(tmp_path: Path) -> None:
    frames, contours, _ = coco_fixture(tmp_path)
    document = json.loads(join(write_coco(frames, contours, categories=CATEGORIES)))
    assert all("scores" not in image for image in document["images"])
    assert [a["id"] for a in document["annotations"]] == [11, 10, 12]


def test_coco_with_empty_frame_scores_gives_every_image_an_empty_list(tmp_path: Path) -> None:
    frames, contours, _ = coco_fixture(tmp_path)
    document = json.loads(join(write_coco(frames, contours, categories=CATEGORIES, frame_scores=[])))
    assert [image["scores"] for image in document["images"]] == [[], []]


def test_coco_streams_large_inputs_lazily() -> None:
    frames = [{"frame_id": k, "video_id": 1, "frame_index": k, "width": 64, "height": 48, "patient": "P",
               "image_path": "unused", "image_name": frame_image_name(1, k)} for k in range(1, 3001)]
    seen = [0]
    chunks = write_coco(counted(frames, seen), iter([]), categories=CATEGORIES)
    next(chunks)
    assert seen[0] < len(frames)
    rest = b"".join(chunks)
    assert seen[0] == len(frames) and rest.endswith(b"]}")


@pytest.mark.parametrize(("change", "message"), [
    ("unsorted", "sorted by frame_id"),
    ("orphan_score", "frame score 99 is on frame 102"),
    ("unknown_frame", "contour 10 is on frame 555"),
    ("unknown_class", "contour 10 has class 0"),
])
def test_coco_input_errors(tmp_path: Path, change: str, message: str) -> None:
    frames, contours, scores = coco_fixture(tmp_path)
    if change == "unsorted":
        frames.reverse()
    if change == "orphan_score":
        scores.insert(2, label(label_id=99, frame_id=102))
    if change == "unknown_frame":
        contours[1]["frame_id"] = 555
    if change == "unknown_class":
        contours[1]["segmentation_class"] = 0
    with pytest.raises(ValueError, match=message):
        join(write_coco(frames, contours, categories=CATEGORIES, frame_scores=scores))


# --- LabelMe ---------------------------------------------------------------------------------------------


def test_labelme_document_shape(tmp_path: Path) -> None:
    frame = frame_ref(tmp_path)
    contours = [label("contour", segmentation_class=2), label("contour", label_id=2, annotator="bob",
                                                             segmentation_class=4, vertices=TRIANGLE)]
    document = labelme_document(frame, contours, class_names=DEFAULT_CLASS_NAMES)
    assert document == {
        "version": "5.4.1", "flags": {}, "imagePath": "000004.png", "imageData": None,
        "imageHeight": 48, "imageWidth": 64,
        "shapes": [
            {"label": "score 1 marker", "points": SQUARE, "group_id": None, "shape_type": "polygon",
             "flags": {}, "description": "alice"},
            {"label": "score 3 marker", "points": TRIANGLE, "group_id": None, "shape_type": "polygon",
             "flags": {}, "description": "bob"},
        ],
    }
    json.dumps(document, allow_nan=False)
    with pytest.raises(ValueError, match="no name"):
        labelme_document(frame, contours, class_names={2: "x"})


def test_labelme_zip_reads_back_and_round_trips(tmp_path: Path) -> None:
    frames = [frame_ref(tmp_path, 100, frame_index=4), frame_ref(tmp_path, 105, video_id=8, frame_index=0)]
    items = [(frames[0], [label("contour", segmentation_class=2), label("contour", label_id=2, annotator="bob",
                                                                        segmentation_class=3, vertices=TRIANGLE)]),
             (frames[1], [])]
    data = join(write_labelme_zip(iter(items), class_names=DEFAULT_CLASS_NAMES))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["classes.json", "frames/7/000004.json", "frames/7/000004.png",
                                              "frames/8/000000.json", "frames/8/000000.png"]
        assert archive.read("frames/7/000004.png") == Path(frames[0]["image_path"]).read_bytes()
        document = json.loads(archive.read("frames/7/000004.json"))
        assert document == labelme_document(frames[0], items[0][1], class_names=DEFAULT_CLASS_NAMES)
        archive.extractall(tmp_path / "unpacked")
    records = read_labelme_folder(tmp_path / "unpacked")
    assert [(r.frame, r.annotator, r.class_id, [list(v) for v in r.vertices]) for r in records] == [
        ((7, 4), "alice", 2, SQUARE), ((7, 4), "bob", 3, TRIANGLE)]


def test_labelme_zip_without_images(tmp_path: Path) -> None:
    frame = frame_ref(tmp_path)
    data = join(write_labelme_zip([(frame, [])], class_names=DEFAULT_CLASS_NAMES, include_images=False))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["classes.json", "frames/7/000004.json"]


# --- masks ZIP -------------------------------------------------------------------------------------------


def test_masks_zip_has_frames_masks_per_annotator_and_classes(tmp_path: Path) -> None:
    frame = frame_ref(tmp_path)
    overlapping = [[20.0, 20.0], [40.0, 20.0], [40.0, 40.0], [20.0, 40.0]]
    by_annotator = {
        "alice": [label("contour", segmentation_class=4, vertices=overlapping),
                  label("contour", label_id=2, segmentation_class=1, vertices=SQUARE)],
        "bob": [label("contour", label_id=3, annotator="bob", segmentation_class=2, vertices=TRIANGLE)],
        "carol": [],
    }
    data = join(write_masks_zip(iter([(frame, by_annotator)])))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["classes.json", "frames/7/000004.png", "masks/alice/7/000004.png",
                                              "masks/bob/7/000004.png", "masks/carol/7/000004.png"]
        assert archive.read("frames/7/000004.png") == Path(frame["image_path"]).read_bytes()
        classes = json.loads(archive.read("classes.json"))["classes"]
        assert {c["id"]: c["name"] for c in classes} == DEFAULT_CLASS_NAMES
        masks = {name: cv2.imdecode(np.frombuffer(archive.read(f"masks/{name}/7/000004.png"), np.uint8),
                                    cv2.IMREAD_UNCHANGED) for name in by_annotator}
    alice = masks["alice"]
    assert alice.shape == (48, 64) and alice.dtype == np.uint8
    assert alice[15, 15] == 1  # only the class-1 square
    assert alice[25, 25] == 4  # overlap: the higher class wins although it was listed first
    assert alice[35, 35] == 4 and alice[5, 5] == 0
    np.testing.assert_array_equal(masks["bob"], rasterise({2: [TRIANGLE]}, 48, 64))
    assert not masks["carol"].any()


def test_masks_zip_streams_in_chunks_to_an_unseekable_sink(tmp_path: Path) -> None:
    frames = [frame_ref(tmp_path, 100 + k, frame_index=k, width=256, height=256, noise=True) for k in range(4)]
    seen = [0]
    chunks = write_masks_zip(counted([(f, {"alice": [label("contour", vertices=SQUARE)]}) for f in frames], seen))
    first = next(chunks)
    assert len(first) >= CHUNK_SIZE and seen[0] < len(frames)
    parts = [first, *chunks]
    assert len(parts) >= 4
    with zipfile.ZipFile(io.BytesIO(b"".join(parts))) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 1 + 2 * len(frames)


def test_masks_zip_makes_usernames_safe_folder_names(tmp_path: Path) -> None:
    data = join(write_masks_zip([(frame_ref(tmp_path), {"../x": [], "a b": []})], include_images=False))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["classes.json", "masks/.._x/7/000004.png", "masks/a_b/7/000004.png"]


# --- training manifest -----------------------------------------------------------------------------------


def load_ml_manifest_module() -> Any:
    """ml.data.manifest on its own (importing the ml.data package would pull in torch)."""
    spec = importlib.util.spec_from_file_location("ml_data_manifest", REPO / "ml" / "data" / "manifest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_manifest_lists_frame_scores_in_the_ml_format(tmp_path: Path) -> None:
    rows = [label(score=1), label("video_score", label_id=2), label("contour", label_id=3),
            label(label_id=4, video_id=12, frame_index=130, annotator="bob", patient="P0002", score=3)]
    lines = join(write_manifest(iter(rows), image_prefix="export/")).decode().splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects == [
        {"image": "export/frames/7/000004.png", "score": 1, "patient": "P0001", "video": "7", "frame_index": 4,
         "annotator": "alice"},
        {"image": "export/frames/12/000130.png", "score": 3, "patient": "P0002", "video": "12",
         "frame_index": 130, "annotator": "bob"},
    ]
    manifest = load_ml_manifest_module()
    parsed = [manifest.parse_row(o, base=tmp_path) for o in objects]
    assert [(p.patient, p.video, p.score, p.annotator) for p in parsed] == [
        ("P0001", "7", 1, "alice"), ("P0002", "12", 3, "bob")]
    assert parsed[0].image == tmp_path / "export" / "frames" / "7" / "000004.png"
