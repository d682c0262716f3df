"""Chromium: contour tracks in the annotate page (issue 19). Keyframes by keyboard and the interpolated frames
between them (marked in the timeline, stored as such), keyboard-only vertex editing turning an interpolated
frame into a keyframe, propagation with accept / discard from the keyboard, and accepting the model's
pre-annotations of a whole track with the active scorer's pre-filled frame scores."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from annotations.models import Contour, FrameScore, ProjectSettings, SegmentationClass, Track
from annotations.tracks import track_create
from modelling.models import FramePrediction, ModelKind, ModelVersion, SegmentationPrediction
from studies.models import Exam, Frame, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_annotate_browser import _open, _seed_classes

pytestmark = pytest.mark.browser

FRAMES, WIDTH, HEIGHT = 12, 160, 120
SQUARE = [[40.0, 30.0], [80.0, 30.0], [80.0, 70.0], [40.0, 70.0]]
KEYFRAME, INTERPOLATED, PROPOSAL = 0, 1, 2  # tracks.js MARK


def _video(annotator) -> Video:  # type: ignore[no-untyped-def]
    """A textured scene moving 1 px right per frame (optical flow has something to follow)."""
    _seed_classes()
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Track site"), code="P-T"))
    video = Video.objects.create(exam=exam, fps=10, frame_count=FRAMES, width=WIDTH, height=HEIGHT, format="mp4",
                                 source_file="t.mp4", original_name="tracks.mp4", sha256="e" * 64)
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (HEIGHT // 4, (WIDTH + FRAMES) // 4 + 1), dtype=np.uint8)
    texture = cv2.resize(small, (small.shape[1] * 4, HEIGHT), interpolation=cv2.INTER_LINEAR)
    for index in range(FRAMES):
        image = np.ascontiguousarray(texture[:, FRAMES - index:FRAMES - index + WIDTH])
        _, png = cv2.imencode(".png", image)
        frame = Frame(video=video, index=index)
        frame.image.save(f"tracks-browser/{index}.png", ContentFile(png.tobytes()), save=True)
    VideoAssignment.objects.create(video=video, annotator=annotator)
    return video


def _contour(video: Video, annotator, index: int, vertices: list) -> Contour:  # type: ignore[no-untyped-def]
    return Contour.objects.create(frame=Frame.objects.get(video=video, index=index), annotator=annotator,
                                  segmentation_class=SegmentationClass.objects.get(index=2), vertices=vertices,
                                  validation_level=1)


def _marks(page) -> list[int]:  # type: ignore[no-untyped-def]
    return page.evaluate("Array.from(window.__annotate.tracks.marks)")


def _wait_marks(page, expected: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    checks = " && ".join(f"m[{i}] === {v}" for i, v in expected.items())
    page.wait_for_function(f"(() => {{ const m = window.__annotate.tracks.marks; return {checks}; }})()",
                           timeout=20000)


def _go(page, index: int) -> None:  # type: ignore[no-untyped-def]
    page.keyboard.press("Home")
    for _ in range(index):
        page.keyboard.press("k")
    expect(page.locator("#frame-counter")).to_have_text(f"Frame {index + 1} / {FRAMES}")


def test_keyframes_interpolate_and_keyboard_vertex_editing(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("trk-1", "annotator")
    video = _video(annotator)
    _contour(video, annotator, 0, SQUARE)
    _contour(video, annotator, 8, [[x + 16, y] for x, y in SQUARE])
    session = browse()
    session.login("trk-1")
    _open(session, video)
    page = session.page
    page.keyboard.press("Tab")  # select the polygon
    page.keyboard.press("l")    # start a track from it
    # the track is known and its reload is over (a key pressed while a track change is in flight is refused)
    page.wait_for_function("window.__annotate.tracks.lastTrack !== null && window.__annotate.tracks.busy === false",
                           timeout=15000)
    _go(page, 8)
    page.keyboard.press("Tab")
    page.keyboard.press("l")    # the polygon on frame 9 joins the track as a keyframe
    _wait_marks(page, {0: KEYFRAME, 4: INTERPOLATED, 7: INTERPOLATED, 8: KEYFRAME})
    track = Track.objects.get(annotator=annotator)
    stored = {c.frame.index: c for c in Contour.objects.filter(track=track).select_related("frame")}
    assert sorted(stored) == list(range(9))
    assert stored[4].origin == "interpolated" and stored[4].vertices[0] == [48.0, 30.0]
    session.shot("tracks-keyframes")

    # keyboard-only editing of the interpolated frame 5: select, pick a vertex, nudge, insert, delete, class
    _go(page, 4)
    page.keyboard.press("Tab")
    page.keyboard.press(".")    # vertex 0
    page.keyboard.press("Shift+ArrowDown")  # 10 px down
    page.keyboard.press("ArrowRight")       # 1 px right (a vertex is selected: no frame step)
    expect(page.locator("#frame-counter")).to_have_text(f"Frame 5 / {FRAMES}")
    page.keyboard.press("i")    # a vertex after it
    page.keyboard.press("i")
    page.keyboard.press("Delete")  # and that one removed again
    _wait_marks(page, {4: KEYFRAME})
    page.wait_for_function("document.querySelector('#save-state').dataset.state === 'saved'", timeout=15000)
    page.wait_for_function("window.__annotate.tracks.busy === false", timeout=15000)
    edited = Contour.objects.get(track=track, frame__index=4)
    assert edited.origin == "manual" and edited.is_keyframe
    assert edited.vertices[0] == [49.0, 40.0] and len(edited.vertices) == 5
    assert Contour.objects.get(track=track, frame__index=2).origin == "interpolated"

    # N on frame 7: the marker left the view there; the track ends at frame 5's keyframe, restarts at 9
    _go(page, 6)
    page.keyboard.press("n")
    _wait_marks(page, {5: -1, 6: -1, 7: -1, 8: KEYFRAME})
    track.refresh_from_db()
    assert track.gaps == [6]
    assert sorted(Contour.objects.filter(track=track).values_list("frame__index", flat=True)) == [0, 1, 2, 3, 4, 8]


def test_propagate_then_accept_and_discard_by_keyboard(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("trk-2", "annotator")
    video = _video(annotator)
    track = track_create(user=annotator, video=video, segmentation_class=2, frame_index=0, vertices=SQUARE)
    session = browse()
    session.login("trk-2")
    _open(session, video)
    page = session.page
    page.locator("#propagate-n").fill("4")
    page.locator("canvas.frame-canvas").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+P")
    _wait_marks(page, {1: PROPOSAL, 4: PROPOSAL})
    session.shot("tracks-proposals")
    _go(page, 1)
    page.keyboard.press("a")    # accept frame 2, on to frame 3
    expect(page.locator("#frame-counter")).to_have_text(f"Frame 3 / {FRAMES}")
    _wait_marks(page, {1: KEYFRAME})
    page.keyboard.press("x")    # discard frame 3
    page.wait_for_function("window.__annotate.tracks.busy === false && window.__annotate.tracks.marks[2] !== 2",
                           timeout=15000)
    _go(page, 3)
    page.keyboard.press("Shift+A")  # the rest of the track
    _wait_marks(page, {2: INTERPOLATED, 3: KEYFRAME, 4: KEYFRAME})
    rows = {c.frame.index: c for c in Contour.objects.filter(track=track).select_related("frame")}
    assert [rows[i].origin for i in range(5)] == ["manual", "propagated", "interpolated", "propagated", "propagated"]
    assert not any(c.is_proposal for c in rows.values())
    assert abs(rows[4].vertices[0][0] - (SQUARE[0][0] + 4)) < 1.5  # followed the scene (1 px a frame)


def test_preannotations_accepted_for_a_whole_track(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("trk-3", "annotator")
    video = _video(annotator)
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    version = ModelVersion.objects.create(kind=ModelKind.SEGMENTATION, name="seg", is_active=True)
    for index in range(3):
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[30:70, 40 + index:80 + index] = 2
        _, png = cv2.imencode(".png", mask)
        prediction = SegmentationPrediction(frame=Frame.objects.get(video=video, index=index), model_version=version)
        prediction.mask.save(f"tracks-seg/{index}.png", ContentFile(png.tobytes()), save=True)
    scorer = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    FramePrediction.objects.bulk_create([
        FramePrediction(frame=frame, model_version=scorer, probabilities=[0.1, 0.2, 0.6, 0.1], score=2)
        for frame in Frame.objects.filter(video=video, index__lt=3)])
    session = browse()
    session.login("trk-3")
    _open(session, video)
    page = session.page
    page.locator("#preannotate-button").click()
    _wait_marks(page, {0: PROPOSAL, 2: PROPOSAL})
    page.locator("canvas.frame-canvas").focus()
    page.keyboard.press("Shift+A")
    _wait_marks(page, {0: KEYFRAME, 1: KEYFRAME, 2: KEYFRAME})
    page.wait_for_function("document.querySelector('#save-state').dataset.state === 'saved'", timeout=15000)
    rows = Contour.objects.filter(annotator=annotator)
    assert rows.count() == 3
    # the active scorer's scores were pre-filled and accepted with the track's frames
    assert sorted(FrameScore.objects.filter(annotator=annotator).values_list("frame__index", "score")) == [
        (0, 2), (1, 2), (2, 2)]
    assert set(rows.values_list("origin", "source", "is_proposal", "model_version_id")) == {
        ("model", "model", False, version.pk)}
    ProjectSettings.objects.filter(pk=1).update(reveal_labels_to_annotators=False)
    session.goto(f"/videos/{video.pk}/annotate/")
    assert page.locator("#preannotate-button").count() == 0  # blind mode: not offered
