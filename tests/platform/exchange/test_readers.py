"""Import readers: plain records from score CSVs, COCO files and LabelMe folders, every problem listed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from exchange.formats import (
    ContourRecord,
    FormatError,
    ScoreRecord,
    read_coco,
    read_labelme_folder,
    read_score_csv,
)

SQUARE = [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]]
BOW_TIE = [[10.0, 10.0], [30.0, 30.0], [30.0, 10.0], [10.0, 30.0]]


def flat(vertices: list[list[float]]) -> list[float]:
    return [c for vertex in vertices for c in vertex]


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def problems_of(error: pytest.ExceptionInfo[FormatError]) -> list[tuple[str, str]]:
    return error.value.problems


# --- score CSV -------------------------------------------------------------------------------------------


def test_score_csv_frame_ids_video_frame_pairs_and_video_scores() -> None:
    text = ("frame_id,video_id,frame_index,annotator,score\n"
            "100,,,alice,2\n"
            ",7,12,alice,3\n"
            ",7,,bob,1\n"
            ",,,,\n"  # blank lines from spreadsheets are skipped
            "101,,,,0\n")
    records = read_score_csv(csv_file(text))
    assert records == [
        ScoreRecord(frame=100, video_id=None, annotator="alice", score=2),
        ScoreRecord(frame=(7, 12), video_id=None, annotator="alice", score=3),
        ScoreRecord(frame=None, video_id=7, annotator="bob", score=1),
        ScoreRecord(frame=101, video_id=None, annotator=None, score=0),
    ]
    assert records[2].is_video_score and not records[0].is_video_score
    assert [r.location for r in records] == ["line 2", "line 3", "line 4", "line 6"]


def test_score_csv_from_a_path_with_bom_semicolons_and_odd_header_case(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_bytes("\ufeffVideo_ID;Frame_Index;Annotator;Score\r\n7;0;alice;1\r\n".encode())
    assert read_score_csv(path) == [ScoreRecord(frame=(7, 0), video_id=None, annotator="alice", score=1)]
    assert read_score_csv(str(path))[0].score == 1


def test_score_csv_accepts_text_file_objects_and_leading_blank_lines() -> None:
    records = read_score_csv(io.StringIO("\n\nvideo_id,score\n3,2\n"))
    assert records == [ScoreRecord(frame=None, video_id=3, annotator=None, score=2)]
    assert records[0].location == "line 4"


def test_score_csv_collects_every_problem_with_its_line() -> None:
    text = ("frame_id,video_id,frame_index,annotator,score\n"
            "100,,,alice,2\n"
            "101,,,alice,5\n"
            "abc,,,alice,1\n"
            ",,3,alice,1\n"
            "102,,,alice,\n"
            "103,,,alice,1.5\n"
            "100,,,alice,1\n"
            ",,,alice,1\n"
            "0,,,alice,1\n")
    with pytest.raises(FormatError) as error:
        read_score_csv(csv_file(text))
    assert problems_of(error) == [
        ("line 3", "score 5 outside 0–3"),
        ("line 4", "frame_id 'abc' is not an integer"),
        ("line 5", "frame_index needs video_id too"),
        ("line 6", "score missing"),
        ("line 7", "score 1.5 is not an integer"),
        ("line 8", "a second score for the same frame 100 by alice (first on line 2)"),
        ("line 9", "no frame_id, video_id + frame_index, or video_id"),
        ("line 10", "frame_id 0 is below 1"),
    ]
    assert isinstance(error.value, ValueError)
    assert str(error.value).startswith("8 problems: line 3: score 5 outside 0–3;")


@pytest.mark.parametrize("text", ["annotator,score\nalice,1\n", "frame_id,annotator\n1,alice\n", ""])
def test_score_csv_needs_a_usable_header(text: str) -> None:
    with pytest.raises(FormatError) as error:
        read_score_csv(csv_file(text))
    (where, what), = problems_of(error)
    assert where == "line 1" and what.startswith("the header needs 'score' and 'frame_id' or 'video_id'")


def test_score_csv_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("frame_id,annotator,score\n1,Zoë,2\n".encode("latin-1"))
    with pytest.raises(FormatError) as error:
        read_score_csv(path)
    assert problems_of(error)[0][1].startswith("not UTF-8 text")
    assert error.value.source == str(path)


def test_score_csv_problem_list_is_capped() -> None:
    text = "frame_id,score\n" + "1,9\n" * 1500
    with pytest.raises(FormatError) as error:
        read_score_csv(csv_file(text))
    assert len(problems_of(error)) == 1001
    assert problems_of(error)[-1] == ("…", "500 more problems not listed")


# --- COCO ------------------------------------------------------------------------------------------------


def coco_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "categories": [{"id": 1, "name": "score 0 marker (A-lines)"}, {"id": 4, "name": "score 3 marker"}],
        "images": [
            {"id": 100, "file_name": "frames/7/000004.png", "width": 64, "height": 48, "video_id": 7,
             "frame_index": 4, "scores": [{"annotator": "alice", "score": 2, "validation_level": 3}]},
            {"id": 5, "file_name": "elsewhere.png", "width": 64, "height": 48},
        ],
        "annotations": [
            {"id": 1, "image_id": 100, "category_id": 4, "segmentation": [flat(SQUARE)], "iscrowd": 0,
             "annotator": "alice"},
            {"id": 2, "image_id": 5, "category_id": 1,
             "segmentation": [[1, 1, 20, 1, 10, 15], [40, 40, 50, 40, 45, 47]]},
        ],
    }
    document.update(changes)
    return document


def test_coco_polygons_and_scores() -> None:
    records = read_coco(io.BytesIO(json.dumps(coco_document()).encode()))
    assert records == [
        ContourRecord(frame=(7, 4), annotator="alice", class_id=4, vertices=tuple(map(tuple, SQUARE))),
        ContourRecord(frame=5, annotator=None, class_id=1, vertices=((1.0, 1.0), (20.0, 1.0), (10.0, 15.0))),
        ContourRecord(frame=5, annotator=None, class_id=1, vertices=((40.0, 40.0), (50.0, 40.0), (45.0, 47.0))),
    ]
    assert isinstance(records, list)
    assert records.scores == [ScoreRecord(frame=(7, 4), video_id=None, annotator="alice", score=2)]
    assert records[2].location == "annotations[1].segmentation[1]"


def test_coco_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco_document()))
    assert len(read_coco(path)) == 3


def test_coco_collects_every_problem() -> None:
    document = coco_document()
    document["images"].append({"id": 5, "width": 64, "height": 48})
    document["images"].append({"id": 6, "width": 0, "height": 48, "scores": [{"score": 7}]})
    document["annotations"] += [
        {"id": 3, "image_id": 999, "category_id": 1, "segmentation": [flat(SQUARE)]},
        {"id": 4, "image_id": 100, "category_id": 2, "segmentation": [flat(SQUARE)]},
        {"id": 5, "image_id": 100, "category_id": 1, "segmentation": {"counts": "abc", "size": [48, 64]},
         "iscrowd": 1},
        {"id": 6, "image_id": 100, "category_id": 1, "segmentation": [[1, 2, 3, 4, 5]]},
        {"id": 7, "image_id": 100, "category_id": 1, "segmentation": [flat(BOW_TIE)]},
        {"id": 8, "image_id": 100, "category_id": 1, "segmentation": [[1, 1, 200, 1, 5, 30]]},
        {"id": 9, "image_id": 100, "category_id": 1, "segmentation": [[1, 1, 20, 1]]},
    ]
    with pytest.raises(FormatError) as error:
        read_coco(io.StringIO(json.dumps(document)))
    assert problems_of(error) == [
        ("images[2]", "image id 5 appears twice"),
        ("images[3]", "width 0 is below 1"),
        ("annotations[2]", "image_id 999 is not among the images"),
        ("annotations[3]", "category_id 2 is not among the categories"),
        ("annotations[4]", "RLE masks (iscrowd 1) are not supported; give polygons"),
        ("annotations[5].segmentation[0]", "a polygon is a flat list [x1, y1, x2, y2, ...] of even length"),
        ("annotations[6].segmentation[0]",
         "the polygon is self-intersecting: edge 0–1 crosses or touches edge 2–3"),
        ("annotations[7].segmentation[0]", "vertex 1: outside the 64×48 image (allowed: 0 ≤ x ≤ 64, 0 ≤ y ≤ 48)"),
        ("annotations[8].segmentation[0]", "a polygon needs at least 3 vertices, got 2"),
    ]


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", ("line 1", "not valid JSON: Expecting property name enclosed in double quotes (column 2)")),
    ("[1, 2]", ("file", "the top level must be a JSON object")),
    ('{"images": [], "annotations": {}}', ("annotations", "missing or not a list")),
])
def test_coco_structure_errors(content: str, expected: tuple[str, str]) -> None:
    with pytest.raises(FormatError) as error:
        read_coco(io.StringIO(content))
    assert problems_of(error)[0] == expected


# --- LabelMe ---------------------------------------------------------------------------------------------


def labelme(shapes: list[dict[str, Any]], width: int = 64, height: int = 48) -> str:
    return json.dumps({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": "x.png", "imageData": None,
                       "imageHeight": height, "imageWidth": width})


def shape(label: str, points: Any, **extra: Any) -> dict[str, Any]:
    return {"label": label, "points": points, "group_id": None, "shape_type": "polygon", "flags": {}, **extra}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_labelme_folder_with_default_class_names(tmp_path: Path) -> None:
    write(tmp_path / "frames/7/000004.json", labelme([shape("score 2 marker", SQUARE, description="alice"),
                                                     shape("1", SQUARE)]))
    write(tmp_path / "frames/8/000010.json", labelme([]))
    records = read_labelme_folder(tmp_path)
    assert records == [
        ContourRecord(frame=(7, 4), annotator="alice", class_id=3, vertices=tuple(map(tuple, SQUARE))),
        ContourRecord(frame=(7, 4), annotator=None, class_id=1, vertices=tuple(map(tuple, SQUARE))),
    ]
    assert records[0].location == "frames/7/000004.json: shapes[0]"


def test_labelme_folder_uses_classes_json_or_the_given_mapping(tmp_path: Path) -> None:
    write(tmp_path / "classes.json", json.dumps({"1": "A-lines", "2": "B-lines"}))
    write(tmp_path / "3/0.json", labelme([shape("B-lines", SQUARE)]))
    assert [r.class_id for r in read_labelme_folder(tmp_path)] == [2]
    assert [r.class_id for r in read_labelme_folder(tmp_path, class_ids={"B-lines": 4})] == [4]


def test_labelme_folder_collects_every_problem(tmp_path: Path) -> None:
    write(tmp_path / "frames/7/000004.json", labelme([
        shape("score 2 marker", SQUARE),
        shape("pleura", SQUARE),
        shape("score 2 marker", [[1, 1], [5, 5]]),
        {"label": "score 2 marker", "points": [[1, 1], [9, 9]], "shape_type": "circle"},
        shape("score 2 marker", BOW_TIE, description=7),
    ]))
    write(tmp_path / "frames/7/broken.json", "{")
    write(tmp_path / "frames/7/000005.json", json.dumps({"something": "else"}))
    write(tmp_path / "notes/readme.json", labelme([]))
    with pytest.raises(FormatError) as error:
        read_labelme_folder(tmp_path)
    found = problems_of(error)
    assert found[:5] == [
        ("frames/7/000004.json: shapes[1]",
         "unknown label 'pleura'; expected one of 'background', 'score 0 marker (A-lines)', 'score 1 marker', "
         "'score 2 marker', 'score 3 marker' or a class id"),
        ("frames/7/000004.json: shapes[2]", "a polygon needs at least 3 vertices, got 2"),
        ("frames/7/000004.json: shapes[3]", "shape_type 'circle' is not supported (polygons only)"),
        ("frames/7/000004.json: shapes[4]", "annotator must be a username, got 7"),
        ("frames/7/000004.json: shapes[4]",
         "the polygon is self-intersecting: edge 0–1 crosses or touches edge 2–3"),
    ]
    assert found[5:] == [
        ("frames/7/000005.json", "not a LabelMe file: no 'shapes' list"),
        ("frames/7/broken.json", "not valid JSON: Expecting property name enclosed in double quotes (line 1)"),
        ("notes/readme.json", "cannot tell the frame: expected <video_id>/<frame_index>.json"),
    ]
    assert error.value.source == str(tmp_path)


def test_labelme_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not a folder"):
        read_labelme_folder(tmp_path / "missing")


def test_deeply_nested_json_is_a_format_error(tmp_path: Path) -> None:
    """`"[" * 100000` raised RecursionError (a 500); it is a FormatError naming the file's problem."""
    from exchange.formats import FormatError, read_labelme_folder

    with pytest.raises(FormatError, match="nested too deeply"):
        read_coco(io.BytesIO(b"[" * 100_000))
    (tmp_path / "frame.json").write_text("[" * 100_000)
    with pytest.raises(FormatError, match="nested too deeply"):
        read_labelme_folder(tmp_path)
