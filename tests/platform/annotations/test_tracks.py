"""Contour tracks (issue 19): keyframes and interpolated frames stored as such, edits turn frames into
keyframes, re-interpolation, gaps, propagation proposals, accept/discard, permissions, blind mode for
model pre-annotations, agreement with or without pre-annotations, bounded query counts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import user_ensure
from agreement.selectors import Scope, contour_agreement
from annotations.models import Contour, ContourOrigin, LabelSource, ProjectSettings, Track
from modelling.models import ModelKind, ModelVersion, SegmentationPrediction
from studies.models import Exam, Frame, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure

pytestmark = pytest.mark.django_db

N, W, H = 12, 96, 72
SQUARE = [[30.0, 20.0], [50.0, 20.0], [50.0, 40.0], [30.0, 40.0]]


def _texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (H // 4, (W + 2 * N) // 4), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, ((W + 2 * N), H), interpolation=cv2.INTER_LINEAR), (3, 3), 0)


@pytest.fixture
def video(db) -> Video:  # type: ignore[no-untyped-def]
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="S"), code="P9", covid_status="positive"))
    video = Video.objects.create(exam=exam, fps=25, frame_count=N, width=W, height=H, format="mp4",
                                 source_file="t.mp4", original_name="t.mp4", sha256="t" * 64)
    texture = _texture()
    for index in range(N):  # the scene moves 1 px to the right per frame
        image = texture[:, N - index:N - index + W]
        _, png = cv2.imencode(".png", np.ascontiguousarray(image))
        frame = Frame(video=video, index=index)
        frame.image.save(f"tracks/{index}.png", ContentFile(png.tobytes()), save=True)
    return video


@pytest.fixture
def ann(video: Video) -> User:
    user = user_ensure(username="trk-a", role=Role.ANNOTATOR, validation_level=1)
    VideoAssignment.objects.create(video=video, annotator=user)
    return user


@pytest.fixture
def other(video: Video) -> User:
    user = user_ensure(username="trk-b", role=Role.ANNOTATOR, validation_level=1)
    VideoAssignment.objects.create(video=video, annotator=user)
    return user


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _shifted(dx: float) -> list[list[float]]:
    return [[x + dx, y] for x, y in SQUARE]


def _track(client: APIClient, video: Video, frame: int = 0, vertices: list | None = None) -> dict:
    answer = client.post(f"/api/videos/{video.pk}/tracks/", {"segmentation_class": 2, "frame_index": frame,
                                                              "vertices": vertices or SQUARE}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _by_frame(track: dict) -> dict[int, dict]:
    return {c["frame_index"]: c for c in track["contours"]}


def _keyframe(client: APIClient, track: dict, frame: int, vertices: list | None, version: int = 0) -> dict:
    body = {"version": version} | ({"vertices": vertices} if vertices is not None else {})
    answer = client.put(f"/api/tracks/{track['id']}/keyframes/{frame}/", body, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_interpolated_frames_are_stored_with_their_origin_and_exported_as_contours(video, ann):
    client = _client(ann)
    track = _keyframe(client, _track(client, video), 10, _shifted(10))
    rows = _by_frame(track)
    assert sorted(rows) == list(range(11))
    assert [rows[i]["origin"] for i in (0, 5, 10)] == ["manual", "interpolated", "manual"]
    assert rows[0]["is_keyframe"] and rows[10]["is_keyframe"] and not rows[5]["is_keyframe"]
    assert rows[5]["vertices"] == _shifted(5)  # exact halfway, keyframe vertices unchanged
    assert rows[10]["vertices"] == _shifted(10)
    stored = Contour.objects.filter(track_id=track["id"], origin=ContourOrigin.INTERPOLATED)
    assert stored.count() == 9 and not stored.filter(is_proposal=True).exists()
    listed = client.get("/api/contours/", {"frame__video": video.pk}).json()
    results = listed["results"] if isinstance(listed, dict) else listed
    assert {r["origin"] for r in results} == {"manual", "interpolated"} and len(results) == 11


def test_editing_an_interpolated_frame_makes_it_a_manual_keyframe_and_reinterpolates(video, ann):
    client = _client(ann)
    track = _keyframe(client, _track(client, video), 10, _shifted(10))
    five = _by_frame(track)[5]
    track = _keyframe(client, track, 5, _shifted(0), version=five["version"])  # moved back to the start
    rows = _by_frame(track)
    assert rows[5]["origin"] == "manual" and rows[5]["is_keyframe"]
    assert rows[3]["vertices"] == _shifted(0)  # between two equal keyframes
    assert rows[8]["vertices"] == _shifted(6)
    # the viewer's whole-frame save of an interpolated contour converts it too
    seven = rows[7]
    frame = Frame.objects.get(video=video, index=7)
    mine = Contour.objects.filter(frame=frame, annotator=ann)
    answer = client.put(f"/api/frames/{frame.pk}/contours/", {
        "contours": [{"id": seven["id"], "segmentation_class": 2, "vertices": _shifted(1)}],
        "base": [{"id": c.pk, "version": c.version} for c in mine]}, format="json")
    assert answer.status_code == 200, answer.content
    saved = Contour.objects.get(pk=seven["id"])
    assert saved.origin == ContourOrigin.MANUAL and saved.is_keyframe
    assert Contour.objects.get(track_id=track["id"], frame__index=6).vertices == [
        [round(x, 2), y] for x, y in _shifted(0.5)]


def test_stale_keyframe_version_is_a_conflict(video, ann):
    client = _client(ann)
    track = _track(client, video)
    zero = _by_frame(track)[0]
    _keyframe(client, track, 0, _shifted(1), version=zero["version"])
    answer = client.put(f"/api/tracks/{track['id']}/keyframes/0/", {"vertices": _shifted(2),
                                                                     "version": zero["version"]}, format="json")
    assert answer.status_code == 409
    assert client.put(f"/api/tracks/{track['id']}/keyframes/0/", {"vertices": _shifted(2)},
                      format="json").status_code == 428


def test_unmarking_a_keyframe_interpolates_its_frame_again(video, ann):
    client = _client(ann)
    track = _keyframe(client, _track(client, video), 4, _shifted(20))
    track = _keyframe(client, track, 8, _shifted(8))
    four = _by_frame(track)[4]
    answer = client.delete(f"/api/tracks/{track['id']}/keyframes/4/", {"version": four["version"]}, format="json")
    rows = _by_frame(answer.json())
    assert rows[4]["origin"] == "interpolated" and rows[4]["vertices"] == _shifted(4)


def test_gap_ends_the_track_and_a_later_keyframe_restarts_it(video, ann):
    client = _client(ann)
    track = _keyframe(client, _track(client, video), 10, _shifted(10))
    answer = client.put(f"/api/tracks/{track['id']}/gaps/4/", format="json")
    rows = _by_frame(answer.json())
    # the track ends at its keyframe before the gap (nothing to interpolate towards) and restarts at 10
    assert sorted(rows) == [0, 10] and answer.json()["gaps"] == [4]
    track = _keyframe(client, _keyframe(client, answer.json(), 3, _shifted(3)), 7, _shifted(7))
    assert sorted(_by_frame(track)) == [0, 1, 2, 3, 7, 8, 9, 10]
    answer = client.delete(f"/api/tracks/{track['id']}/gaps/4/", format="json")
    assert sorted(_by_frame(answer.json())) == list(range(11))


def test_propagate_creates_proposals_then_accept_and_discard(video, ann):
    client = _client(ann)
    track = _track(client, video)
    answer = client.post(f"/api/tracks/{track['id']}/propagate/", {"frame_index": 0, "n_frames": 6}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["frames"] == [1, 2, 3, 4, 5, 6] and answer.json()["stop_reason"] == "done"
    proposals = Contour.objects.filter(track_id=track["id"], is_proposal=True)
    assert proposals.count() == 6 and set(proposals.values_list("origin", flat=True)) == {"propagated"}
    moved = np.asarray(proposals.get(frame__index=6).vertices)
    assert np.abs(moved - np.asarray(_shifted(6))).max() < 1.5  # the scene moved 6 px
    # proposals are no labels: not listed, not exported
    listed = client.get("/api/contours/", {"frame__video": video.pk}).json()
    assert len(listed["results"] if isinstance(listed, dict) else listed) == 1
    assert client.post(f"/api/videos/{video.pk}/proposals/accept/", {"frames": [1, 2]},
                       format="json").json() == {"count": 2}
    assert client.post(f"/api/videos/{video.pk}/proposals/discard/", {"frames": [3]},
                       format="json").json() == {"count": 1}
    rows = {c.frame.index: c for c in Contour.objects.filter(track_id=track["id"]).select_related("frame")}
    assert rows[1].is_keyframe and not rows[1].is_proposal and rows[1].origin == "propagated"
    assert 3 not in rows or rows[3].origin == "interpolated"  # between keyframes 2 and… none yet: absent
    assert client.post(f"/api/videos/{video.pk}/proposals/accept/", {"track": track["id"]},
                       format="json").json() == {"count": 3}
    rows = {c.frame.index: c for c in Contour.objects.filter(track_id=track["id"]).select_related("frame")}
    assert rows[3].origin == "interpolated" and not any(c.is_proposal for c in rows.values())


def test_propagation_stops_before_the_next_keyframe(video, ann):
    client = _client(ann)
    track = _keyframe(client, _track(client, video), 4, _shifted(4))
    answer = client.post(f"/api/tracks/{track['id']}/propagate/", {"frame_index": 0, "n_frames": 10}, format="json")
    assert answer.json()["frames"] == [1, 2, 3]


def test_nobody_writes_another_persons_track(video, ann, other):
    track = _track(_client(ann), video)
    client = _client(other)
    assert client.put(f"/api/tracks/{track['id']}/keyframes/3/", {"vertices": SQUARE, "version": 0},
                      format="json").status_code == 404
    assert client.post(f"/api/tracks/{track['id']}/propagate/", {"frame_index": 0, "n_frames": 2},
                       format="json").status_code == 404
    assert client.get(f"/api/videos/{video.pk}/tracks/").json() == []
    unassigned = user_ensure(username="trk-c", role=Role.ANNOTATOR, validation_level=1)
    assert _client(unassigned).get(f"/api/videos/{video.pk}/tracks/").status_code == 404
    assert APIClient().get(f"/api/videos/{video.pk}/tracks/").status_code in (401, 403)


def _segmentation(video: Video) -> ModelVersion:
    version = ModelVersion.objects.create(kind=ModelKind.SEGMENTATION, name="seg", is_active=True)
    for index in range(3):
        mask = np.zeros((H, W), np.uint8)
        mask[20:40, 30 + index:50 + index] = 2
        _, png = cv2.imencode(".png", mask)
        prediction = SegmentationPrediction(frame=Frame.objects.get(video=video, index=index), model_version=version)
        prediction.mask.save(f"seg/{index}.png", ContentFile(png.tobytes()), save=True)
    return version


def test_blind_mode_hides_preannotations_from_annotators(video, ann):
    _segmentation(video)
    client = _client(ann)
    assert client.post(f"/api/videos/{video.pk}/preannotations/").status_code == 403
    assert client.get(f"/api/viewer/videos/{video.pk}/annotate/").json()["preannotations"] is False


def test_preannotations_are_proposals_accepted_per_track_and_counted_only_on_request(video, ann, other, settings):
    version = _segmentation(video)
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    client = _client(ann)
    answer = client.post(f"/api/videos/{video.pk}/preannotations/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["proposals"] == 3 and answer.json()["model_version"] == version.pk
    rows = Contour.objects.filter(annotator=ann, origin=ContourOrigin.MODEL)
    assert set(rows.values_list("is_proposal", "source", "model_version_id")) == {(True, "model", version.pk)}
    track = Track.objects.get(annotator=ann)
    assert client.post(f"/api/videos/{video.pk}/proposals/accept/", {"track": track.pk},
                       format="json").json() == {"count": 3}
    # another annotator draws by hand on the same frames
    for index in range(3):
        Contour.objects.create(frame=Frame.objects.get(video=video, index=index), annotator=other,
                               segmentation_class_id=rows[0].segmentation_class_id, validation_level=1,
                               vertices=_shifted(index), source=LabelSource.HUMAN)
    excluded = contour_agreement(Scope(kind="contour", video=video.pk))
    included = contour_agreement(Scope.from_dict({"kind": "contour", "video": video.pk,
                                                  "include_preannotated": True}))
    assert excluded["raters"] == ["trk-b"] and not excluded["pairs"]
    assert included["raters"] == ["trk-a", "trk-b"] and included["pairs"][0]["dice"]
    settings.PLEURA_PREANNOTATIONS = "off"
    assert client.post(f"/api/videos/{video.pk}/preannotations/").status_code == 403


def test_query_counts_do_not_grow_with_track_length(video, ann):
    client = _client(ann)
    track = _track(client, video)
    counts = []
    for last in (3, 11):
        with CaptureQueriesContext(connection) as queries:
            _keyframe(client, track, last, _shifted(last))
        counts.append(len(queries))
    assert counts[1] <= counts[0] + 1, counts
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/videos/{video.pk}/tracks/")
    assert len(queries) <= 8


def test_coco_labelme_and_masks_exports_carry_interpolated_contours_with_their_origin(video, ann):
    import io
    import json
    import zipfile

    from exchange.services import export_stream

    client = _client(ann)
    _keyframe(client, _track(client, video), 4, _shifted(4))
    coco = json.loads(b"".join(export_stream(user=ann, fmt="coco", params={})))
    origins = {a["image_id"]: (a["origin"], a["is_keyframe"], a["source"]) for a in coco["annotations"]}
    assert len(origins) == 5 and sorted(set(origins.values())) == [
        ("interpolated", False, "human"), ("manual", True, "human")]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export_stream(user=ann, fmt="labelme", params={}))))
    documents = [json.loads(archive.read(n)) for n in archive.namelist() if n.endswith(".json")
                 and "shapes" in json.loads(archive.read(n))]
    flags = sorted((d["shapes"][0]["flags"]["keyframe"], d["shapes"][0]["flags"]["interpolated"]) for d in documents)
    assert flags == [(False, True)] * 3 + [(True, False)] * 2
    masks = zipfile.ZipFile(io.BytesIO(b"".join(export_stream(user=ann, fmt="masks", params={}))))
    assert sum(n.endswith(".png") and "mask" in n for n in masks.namelist()) >= 5
