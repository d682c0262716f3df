"""The read-only frame view (/videos/<id>/frames/ and /api/viewer/videos/<id>/frames/), others' contours in
the frame views' read model, their Dice against the consensus (/api/viewer/videos/<id>/contour-agreement/)
and marker classes named by the findings vocabulary."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.test import Client

from annotations.models import Finding, SegmentationClass
from annotations.services import contours_import

pytestmark = pytest.mark.django_db

# Pixel centres at integers: A fills x 10..29, B x 20..39 (y 10..29): 400 pixels each, 200 shared.
SQUARE_A = [[10, 10], [29, 10], [29, 29], [10, 29]]
SQUARE_B = [[20, 10], [39, 10], [39, 29], [20, 29]]


def _page(user, path: str) -> int:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client.get(path).status_code


@pytest.mark.parametrize(("who", "frames", "annotate"), [
    ("clinician", 200, 403), ("validator", 200, 200), ("admin", 200, 200), ("ann_a", 403, 200)])
def test_who_opens_the_frame_view(world, who, frames, annotate) -> None:  # type: ignore[no-untyped-def]
    user = getattr(world, who)
    assert world.client(user).get(f"/api/viewer/videos/{world.v1.pk}/frames/").status_code == frames
    assert world.client(user).get(f"/api/viewer/videos/{world.v1.pk}/annotate/").status_code == annotate
    assert _page(user, f"/videos/{world.v1.pk}/frames/") == frames
    assert world.client(user).get(f"/api/viewer/videos/{world.v1.pk}/contour-agreement/").status_code == 200


def test_the_frame_view_shows_clinicians_everyones_labels_and_contours(world) -> None:  # type: ignore[no-untyped-def]
    frame = world.frames(world.v1)[0]
    contours_import(annotator=world.ann_a, contours=[(frame.pk, 2, SQUARE_A)])
    contours_import(annotator=world.clinician, contours=[(frame.pk, 3, SQUARE_B)])
    state = world.client(world.clinician).get(f"/api/viewer/videos/{world.v1.pk}/frames/").json()
    others = {o["annotator"]["username"]: o for o in state["others"]}
    assert {"ann-a", "ann-b"} <= set(others)  # their scores, and ann-a's polygon
    assert others["ann-a"]["contours"] == [{"id": others["ann-a"]["contours"][0]["id"], "frame": frame.pk,
                                            "segmentation_class": 2, "vertices": SQUARE_A}]
    assert [c["segmentation_class"] for c in state["mine"]["contours"]] == [3]  # the clinician's own stay mine

    # a validator (level 2) sees the level-1 polygon, not the level-4 one
    state = world.client(world.validator).get(f"/api/viewer/videos/{world.v1.pk}/annotate/").json()
    assert [o["annotator"]["username"] for o in state["others"] if o["contours"]] == ["ann-a"]


def test_dice_against_the_consensus(world) -> None:  # type: ignore[no-untyped-def]
    first, second, _ = world.frames(world.v1)
    contours_import(annotator=world.ann_a, contours=[(first.pk, 2, SQUARE_A), (second.pk, 2, SQUARE_A)])
    contours_import(annotator=world.ann_b, contours=[(first.pk, 2, SQUARE_B)])
    contours_import(annotator=world.validator, contours=[(first.pk, 2, SQUARE_A)])
    rows = world.client(world.validator).get(f"/api/viewer/videos/{world.v1.pk}/contour-agreement/").json()
    # only the first frame has two lower-level raters; their consensus (ties: background) is the overlap
    assert [row["frame"] for row in rows] == [first.pk]
    (row,) = rows
    assert row["raters"] == 2
    assert row["dice"] == {str(world.ann_a.pk): 0.6667, str(world.ann_b.pk): 0.6667}  # 2·200 / (400 + 200)
    assert row["mine"] == 0.6667


def test_marker_classes_read_as_findings() -> None:
    for order, (code, name, description) in enumerate(import_module("annotations.migrations.0005_seed_findings").FINDINGS):
        Finding.objects.get_or_create(code=code, defaults={"name": name, "description": description, "order": order})
    for index, name, score, colour in import_module("annotations.migrations.0002_default_scale").CLASSES:
        SegmentationClass.objects.get_or_create(index=index, defaults={"name": name, "score": score, "colour": colour})
    migration = import_module("annotations.migrations.0006_segmentation_class_finding")
    from django.apps import apps

    migration.link(apps, None)  # what the migration does to the seeded classes
    classes = {c.index: c for c in SegmentationClass.objects.select_related("finding")}
    assert [classes[i].display_name for i in (1, 2, 3, 4)] == ["A-lines", "B-lines", "Consolidation", "White lung"]
    assert classes[2].name == "score 1 marker"  # the stored name (exports, imports) is unchanged
