"""/api/viewer/videos/<id>/annotate/ (the annotate page's read model) and the segmentation image endpoint:
roles, blind annotation, model output, and a constant number of queries."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile

from annotations.models import ProjectSettings
from annotations.services import contours_import, frame_scores_import, video_score_import
from modelling.models import FramePrediction, ModelVersion, SegmentationPrediction, VideoPrediction
from studies.models import Frame

pytestmark = pytest.mark.django_db


def _url(video) -> str:  # type: ignore[no-untyped-def]
    return f"/api/viewer/videos/{video.pk}/annotate/"


def _reveal(on: bool = True) -> None:
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": on})


def _predictions(world) -> SegmentationPrediction:  # type: ignore[no-untyped-def]
    scorer = ModelVersion.objects.create(kind="frame_scorer", name="reg_stn", is_active=True)
    old = ModelVersion.objects.create(kind="frame_scorer", name="reg_stn")
    box = [[1.0, 2.0], [30.0, 2.0], [30.0, 40.0], [1.0, 40.0]]
    for frame in world.frames(world.v1):
        FramePrediction.objects.create(frame=frame, model_version=scorer, probabilities=[0.1, 0.2, 0.3, 0.4],
                                       score=3, crop_box_1=box, crop_box_2=box)
        FramePrediction.objects.create(frame=frame, model_version=old, probabilities=[1, 0, 0, 0], score=0)
    aggregator = ModelVersion.objects.create(kind="aggregator", name="uninorm", is_active=True)
    VideoPrediction.objects.create(video=world.v1, model_version=aggregator, probabilities=[0, 0, 1, 0], score=2)
    segmenter = ModelVersion.objects.create(kind="segmentation", name="unet", is_active=True)
    _, png = cv2.imencode(".png", np.zeros((48, 64), np.uint8))
    prediction = SegmentationPrediction(frame=world.frames(world.v1)[0], model_version=segmenter)
    prediction.mask.save("test/seg/mask.png", ContentFile(png.tobytes()), save=True)
    return prediction


def test_roles(world) -> None:  # type: ignore[no-untyped-def]
    assert world.client(world.ann_a).get(_url(world.v1)).status_code == 200
    assert world.client(world.ann_a).get(_url(world.v2)).status_code == 404  # not assigned to ann-a
    assert world.client(world.validator).get(_url(world.v2)).status_code == 200
    assert world.client(world.admin).get(_url(world.v2)).status_code == 200
    assert world.client(world.clinician).get(_url(world.v1)).status_code == 403  # the page is not theirs
    from rest_framework.test import APIClient

    assert APIClient().get(_url(world.v1)).status_code in (401, 403)
    assert world.client(world.admin).get("/api/viewer/videos/999999/annotate/").status_code == 404


def test_my_labels_with_versions_and_blind_annotation(world) -> None:  # type: ignore[no-untyped-def]
    frames = world.frames(world.v1)
    contours_import(annotator=world.ann_a, contours=[(frames[1].pk, 2, [[1, 1], [20, 1], [20, 20]])])
    video_score_import(annotator=world.ann_a, video_id=world.v1.pk, score=1, comment="patchy")
    data = world.client(world.ann_a).get(_url(world.v1)).json()
    assert data["video"]["frame_count"] == 3 and data["video"]["fps"] == 25
    assert [f["index"] for f in data["frames"]] == [0, 1, 2]
    assert all(f["id"] == frame.pk for f, frame in zip(data["frames"], frames, strict=True))
    assert {(s["frame"], s["score"], s["version"]) for s in data["mine"]["frame_scores"]} == {
        (frames[0].pk, 0, 1), (frames[1].pk, 1, 1)}
    assert data["mine"]["video_score"]["score"] == 1 and data["mine"]["video_score"]["comment"] == "patchy"
    (contour,) = data["mine"]["contours"]
    assert contour["frame"] == frames[1].pk and contour["segmentation_class"] == 2 and contour["version"] == 1
    assert [c["index"] for c in data["segmentation_classes"]] == [1, 2, 3, 4]
    # Blind annotation: nobody else's labels and no model output.
    assert data["others"] == [] and data["model"]["visible"] is False


def test_revealed_labels_and_model_output(world) -> None:  # type: ignore[no-untyped-def]
    _reveal()
    _predictions(world)
    data = world.client(world.ann_a).get(_url(world.v1)).json()
    frames = world.frames(world.v1)
    names = [o["annotator"]["username"] for o in data["others"]]
    assert names == ["ann-b", "doc"]  # every other label on the video, sorted by name
    ann_b = data["others"][0]
    assert ann_b["frame_scores"] == [[frames[0].pk, 2]] and ann_b["video_score"] is None
    assert data["others"][1]["video_score"] == 2
    model = data["model"]
    assert model["visible"] and len(model["frames"]) == 3
    assert {p["score"] for p in model["frames"]} == {3}  # the active version, not the older one
    assert model["frames"][0]["crop_box_1"][1] == [30.0, 2.0]
    assert model["video"]["score"] == 2
    (mask,) = model["segmentations"]
    assert mask["frame"] == frames[0].pk and mask["uncertainty_url"] is None and mask["mask_url"]


def test_validators_see_labels_below_their_level(world) -> None:  # type: ignore[no-untyped-def]
    data = world.client(world.validator).get(_url(world.v1)).json()
    assert sorted(o["annotator"]["username"] for o in data["others"]) == ["ann-a", "ann-b"]  # not the clinician's
    assert data["model"]["visible"] is True


def test_segmentation_urls_load(world) -> None:  # type: ignore[no-untyped-def]
    _reveal()
    _predictions(world)
    (mask,) = world.client(world.ann_a).get(_url(world.v1)).json()["model"]["segmentations"]
    assert mask["uncertainty_url"] is None
    response = world.client(world.ann_a).get(mask["mask_url"])  # signed: no session needed, but it works
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_constant_queries(world, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    _reveal()
    _predictions(world)
    client = world.client(world.ann_b)
    with django_assert_max_num_queries(22) as small:
        assert client.get(_url(world.v1)).status_code == 200
    # Many more frames and labels: the same number of queries.
    for index in range(3, 60):
        Frame.objects.create(video=world.v1, index=index, image=f"test/1/{index}.png")
    ids = list(Frame.objects.filter(video=world.v1).values_list("id", flat=True))
    for user in (world.ann_a, world.ann_b, world.validator):
        frame_scores_import(annotator=user, scores={f: 2 for f in ids})
    contours_import(annotator=world.ann_b, contours=[(f, 1, [[1, 1], [9, 1], [9, 9]]) for f in ids])
    with django_assert_max_num_queries(len(small.captured_queries)):
        data = client.get(_url(world.v1)).json()
    assert len(data["frames"]) == 60 and len(data["mine"]["contours"]) == 60
    assert len(data["others"]) == 3


def test_page_open_to_validators_not_clinicians(world) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    for user, expected in ((world.validator, 200), (world.admin, 200), (world.clinician, 403)):
        client = Client()
        client.force_login(user)
        response = client.get(f"/videos/{world.v2.pk}/annotate/")
        assert response.status_code == expected, user.username
        if expected == 200:  # the page preloads its state and first frame
            assert f"/api/viewer/videos/{world.v2.pk}/annotate/".encode() in response.content
            assert b'rel="preload"' in response.content and b"/frames/" in response.content
