"""Chromium: the annotate page. Score a range of frames with keys, draw and edit a polygon, see them saved
and persisted across a reload (and in the database); a second session's edit of the same score brings
up the conflict dialog, where keep mine / take theirs work."""

from __future__ import annotations

from importlib import import_module

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from annotations.models import (
    Contour,
    Finding,
    FrameScore,
    LabelChange,
    ProjectSettings,
    SegmentationClass,
    VideoScore,
)
from annotations.services import frame_scores_import
from modelling.models import FramePrediction, ModelVersion, SegmentationPrediction
from studies.models import Exam, Frame, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser

FRAMES, WIDTH, HEIGHT = 12, 160, 120
CONFLICT = "status of 409"


def _seed_classes() -> None:
    """The migrations' marker classes and findings, and the classes' links to the findings that name them:
    after an earlier transactional test flushed the database they are gone (the live fixture's serialized
    rollback does not restore them in this process)."""
    for index, name, score, colour in import_module("annotations.migrations.0002_default_scale").CLASSES:
        SegmentationClass.objects.get_or_create(index=index, defaults={"name": name, "score": score, "colour": colour})
    for order, (code, name, description) in enumerate(import_module("annotations.migrations.0005_seed_findings").FINDINGS):
        Finding.objects.get_or_create(code=code, defaults={"name": name, "description": description, "order": order})
    for index, code in import_module("annotations.migrations.0006_segmentation_class_finding").MARKER_FINDINGS.items():
        SegmentationClass.objects.filter(index=index).update(finding=Finding.objects.get(code=code))


def _video(annotator) -> Video:  # type: ignore[no-untyped-def]
    _seed_classes()
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Browser site"), code="P-7"))
    video = Video.objects.create(exam=exam, fps=10, frame_count=FRAMES, width=WIDTH, height=HEIGHT, format="mp4",
                                 source_file="b.mp4", original_name="patient_7_L1.mp4", sha256="c" * 64)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for index in range(FRAMES):
        image = ((xx + yy * 0.5 + index * 9) % 90 + 40).astype(np.uint8)
        image[20 + index * 6: 24 + index * 6, :] = 230  # a moving bright line: frames differ visibly
        _, png = cv2.imencode(".png", image)
        frame = Frame(video=video, index=index)
        frame.image.save(f"browser/{index}.png", ContentFile(png.tobytes()), save=True)
    VideoAssignment.objects.create(video=video, annotator=annotator)
    return video


def _open(session, video: Video) -> None:  # type: ignore[no-untyped-def]
    session.goto(f"/videos/{video.pk}/annotate/")
    session.page.wait_for_function("window.__annotate && window.__annotate.stats().loaded === "
                                   "window.__annotate.stats().total")


def _saves(session) -> int:  # type: ignore[no-untyped-def]
    return session.page.evaluate("window.__annotate.saver.saves")


def _wait_saved(session, saves_before: int) -> None:  # type: ignore[no-untyped-def]
    session.page.wait_for_function(
        f"window.__annotate.saver.saves > {saves_before} && "
        "document.querySelector('#save-state').dataset.state === 'saved'", timeout=15000)
    assert session.page.locator("#save-state").inner_text() == "All changes saved"


def _timeline_click(session, index: int, shift: bool = False) -> None:  # type: ignore[no-untyped-def]
    strip = session.page.locator("canvas.tl-strip")
    box = strip.bounding_box()
    strip.click(position={"x": (index + 0.5) / FRAMES * box["width"], "y": 5}, modifiers=["Shift"] if shift else [])


def _screen(session, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Vertex coordinates (pixel centres at integers) -> page coordinates of the canvas point."""
    view = session.page.evaluate("(() => { const v = window.__annotate.view; const r = v.canvas.getBoundingClientRect();"
                                 " return {x: v.x + r.left, y: v.y + r.top, s: v.scale}; })()")
    return view["x"] + (x + 0.5) * view["s"], view["y"] + (y + 0.5) * view["s"]


def test_score_range_and_contour_are_saved_and_persist(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("ann-1", "annotator")
    video = _video(annotator)
    frames = list(video.frames.order_by("index"))
    session = browse()
    session.login("ann-1")
    _open(session, video)
    page = session.page
    assert page.locator("#frame-counter").inner_text() == f"Frame 1 / {FRAMES}"
    assert page.evaluate("performance.getEntriesByName('pleura:first-frame').length") == 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("k")
    expect(page.locator("#frame-counter")).to_have_text(f"Frame 3 / {FRAMES}")

    # Score frames 3-7 (indices 2..6) at once: click, shift-click on the timeline, then a key.
    saves = _saves(session)
    _timeline_click(session, 2)
    _timeline_click(session, 6, shift=True)
    expect(page.locator("#range-note")).to_contain_text("frames 3–7")
    page.keyboard.press("2")
    assert page.locator("#save-state").get_attribute("data-state") in ("unsaved", "saving", "saved")
    _wait_saved(session, saves)
    page.keyboard.press("Escape")
    session.shot("annotate")

    # Draw a triangle on frame 3 with the polygon tool, close it on its first vertex, then drag a vertex.
    saves = _saves(session)
    page.keyboard.press("d")
    page.locator("#marker-class").select_option("3")
    for x, y in [(30, 30), (120, 35), (70, 100), (30, 30)]:
        page.mouse.click(*_screen(session, x, y))
    expect(page.locator(".contour-list li")).to_have_count(1)
    page.keyboard.press("d")
    page.mouse.move(*_screen(session, 120, 35))
    page.mouse.down()
    page.mouse.move(*_screen(session, 135, 50), steps=4)
    page.mouse.up()
    _wait_saved(session, saves)
    session.shot("annotate-contour")
    page.keyboard.press("v")  # hide the current marker class, then show it again
    expect(page.locator("input[data-class='3']")).not_to_be_checked()
    page.keyboard.press("v")
    expect(page.locator("input[data-class='3']")).to_be_checked()

    assert {f.frame_id: f.score for f in FrameScore.objects.filter(annotator=annotator)} == {
        frames[i].pk: 2 for i in range(2, 7)}
    (contour,) = Contour.objects.filter(annotator=annotator)
    assert contour.frame_id == frames[2].pk and contour.segmentation_class.index == 3
    assert contour.vertices[0] == [30, 30] and contour.vertices[2] == [70, 100]
    assert abs(contour.vertices[1][0] - 135) <= 1 and abs(contour.vertices[1][1] - 50) <= 1

    # Undo and redo go through the same save path.
    saves = _saves(session)
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Shift+z")
    _wait_saved(session, saves)

    page.reload()
    page.wait_for_selector("#app[aria-busy='false']")
    scores = page.evaluate("Array.from(window.__annotate.scores.scores)")
    assert scores == [-1, -1, 2, 2, 2, 2, 2, -1, -1, -1, -1, -1]
    _timeline_click(session, 2)
    expect(page.locator(".contour-list li")).to_have_count(1)
    expect(page.locator(".contour-list li")).to_contain_text("Consolidation · 3 vertices")  # class 3, by its finding
    expect(page.locator(".score-button.score-2")).to_have_attribute("aria-pressed", "true")

    page.keyboard.press("?")
    assert page.locator("#annotate-help").is_visible()
    session.shot("annotate-help")
    page.keyboard.press("Escape")
    assert not page.locator("#annotate-help").is_visible()


def test_conflict_dialog_keep_mine_and_take_theirs(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("ann-2", "annotator")
    video = _video(annotator)
    first = video.frames.get(index=0)
    frame_scores_import(annotator=annotator, scores={first.pk: 0})  # both sessions load version 1
    one, two = browse(), browse()
    for session in (one, two):
        session.login("ann-2")
        _open(session, video)
        session.allow_console(CONFLICT)

    saves = _saves(two)
    two.page.keyboard.press("3")  # the other window saves first
    _wait_saved(two, saves)

    one.page.keyboard.press("1")  # based on version 1: stale
    dialog = one.page.get_by_role("dialog")
    dialog.wait_for()
    assert "Frame score changed meanwhile" in dialog.inner_text()
    assert dialog.locator("td.mine").inner_text() == "1" and dialog.locator("td.theirs").inner_text() == "3"
    assert one.page.locator("#save-state").get_attribute("data-state") == "conflict"
    one.shot("annotate-conflict")
    saves = _saves(one)
    dialog.get_by_role("button", name="Keep mine").click()
    _wait_saved(one, saves)
    label = FrameScore.objects.get(frame=first, annotator=annotator)
    assert (label.score, label.version) == (1, 3)

    # The other window is now stale; it takes theirs (the first window's 1) and saves nothing.
    two.page.keyboard.press("2")
    dialog = two.page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Take theirs").click()
    two.page.wait_for_function("document.querySelector('#save-state').dataset.state === 'saved'")
    expect(two.page.locator(".score-button.score-1")).to_have_attribute("aria-pressed", "true")
    label.refresh_from_db()
    assert (label.score, label.version) == (1, 3)


def test_others_rows_and_model_overlays(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("ann-3", "annotator")
    other = make_user("ann-4", "annotator")
    video = _video(annotator)
    frames = list(video.frames.order_by("index"))
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    frame_scores_import(annotator=other, scores={f.pk: f.index % 4 for f in frames})
    scorer = ModelVersion.objects.create(kind="frame_scorer", name="reg_stn", is_active=True)
    for frame in frames:
        p = [0.1, 0.2, 0.3, 0.4] if frame.index < 6 else [0.7, 0.1, 0.1, 0.1]
        FramePrediction.objects.create(frame=frame, model_version=scorer, probabilities=p, score=int(np.argmax(p)),
                                       crop_box_1=[[20, 10], [100, 10], [100, 90], [20, 90]],
                                       crop_box_2=[[60, 30], [150, 30], [150, 110], [60, 110]])
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[40:80, 30:90] = 3  # class 3: the score-2 marker (orange)
    uncertainty = np.zeros((HEIGHT, WIDTH), np.uint8)
    uncertainty[35:85, 25:95] = 120
    segmenter = ModelVersion.objects.create(kind="segmentation", name="unet", is_active=True)
    segmentation = SegmentationPrediction(frame=frames[0], model_version=segmenter)
    segmentation.mask.save("browser/seg-mask.png", ContentFile(cv2.imencode(".png", mask)[1].tobytes()), save=False)
    segmentation.uncertainty.save("browser/seg-sd.png", ContentFile(cv2.imencode(".png", uncertainty)[1].tobytes()),
                                  save=False)
    segmentation.save()

    session = browse()
    session.login("ann-3")
    _open(session, video)
    page = session.page
    assert page.locator(".tl-label").all_inner_texts()[:3] == ["Me", "ann-4 (L1)", "Model"]
    assert page.locator("canvas.tl-chart").is_visible()
    assert "Model:" in page.locator(".others-line").first.inner_text()
    # Keyboard only: overlays on, mask opacity from the slider, then a video score with the radio group.
    page.keyboard.press("b")
    page.keyboard.press("m")
    page.keyboard.press("u")
    page.wait_for_function("window.__annotate.overlays.cache.size === 2 && "
                           "[...window.__annotate.overlays.cache.values()].every((v) => typeof v !== 'string')")
    expect(page.locator("input[data-overlay='mask']")).to_be_checked()
    page.locator("#overlay-opacity").fill("0.7")
    saves = _saves(session)
    page.locator("#video-score-2").focus()
    page.keyboard.press("Space")
    _wait_saved(session, saves)
    assert VideoScore.objects.get(annotator=annotator, video=video).score == 2
    page.locator("canvas.frame-canvas").focus()
    session.shot("annotate-overlays")


def test_failed_saves_are_retried_and_leaving_asks(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("ann-5", "annotator")
    video = _video(annotator)
    session = browse()
    session.login("ann-5")
    _open(session, video)
    session.allow_console("ERR_FAILED|status of 503")
    page = session.page
    failures = []

    def flaky(route) -> None:  # type: ignore[no-untyped-def]
        if len(failures) < 2:  # the network drops the first save, the server is unavailable for the second
            failures.append(route.request.url)
            if len(failures) == 1:
                route.abort()
            else:
                route.fulfill(status=503, json={"detail": "unavailable"})
        else:
            route.continue_()

    page.route("**/frame-scores/", flaky)
    page.keyboard.press("Shift+ArrowRight")  # keyboard-only range: frames 1–2
    page.keyboard.press("3")
    page.wait_for_function("document.querySelector('#save-state').dataset.state === 'retrying'")
    assert "retrying in" in page.locator("#save-state").inner_text()
    # Leaving now would lose the edit: the page asks (beforeunload is cancelled).
    assert page.evaluate("(() => { const e = new Event('beforeunload', {cancelable: true}); "
                         "window.dispatchEvent(e); return e.defaultPrevented; })()")
    page.wait_for_function("document.querySelector('#save-state').dataset.state === 'saved'", timeout=20000)
    assert len(failures) == 2
    assert sorted(FrameScore.objects.filter(annotator=annotator).values_list("frame__index", "score")) == [
        (0, 3), (1, 3)]
    assert not page.evaluate("(() => { const e = new Event('beforeunload', {cancelable: true}); "
                             "window.dispatchEvent(e); return e.defaultPrevented; })()")


def test_a_save_whose_answer_is_lost_is_replayed_not_written_twice(browse) -> None:  # type: ignore[no-untyped-def]
    """The server commits a save but its answer never reaches the page (the connection dies after COMMIT):
    the retry carries the same Idempotency-Key and gets the first answer replayed; one label, one history row."""
    annotator = make_user("ann-6", "annotator")
    video = _video(annotator)
    session = browse()
    session.login("ann-6")
    _open(session, video)
    session.allow_console("ERR_FAILED")
    page, sent = session.page, []

    def lose_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()  # the server gets the save and commits it
        sent.append((route.request.headers.get("idempotency-key"), response.headers.get("idempotent-replayed")))
        if len(sent) == 1:
            route.abort()  # ... and the page never hears back
        else:
            route.fulfill(response=response)

    page.route("**/frame-scores/", lose_first_answer)
    saves = _saves(session)
    page.keyboard.press("3")
    _wait_saved(session, saves)
    assert len(sent) == 2 and sent[0][0] and sent[0][0] == sent[1][0]  # one key for the save and its retry
    assert sent[0][1] is None and sent[1][1] == "true"
    assert list(FrameScore.objects.filter(annotator=annotator).values_list("score", "version")) == [(3, 1)]
    assert LabelChange.objects.filter(owner=annotator).count() == 1
