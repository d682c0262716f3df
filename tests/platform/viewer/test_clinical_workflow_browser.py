"""Chromium, issue 15's clinical workflow: the clinician's read-only frame view (model output, everyone's
labels and contours, no write control, keyboard), a validator accepting a lower level's contour with the
Dice against the consensus shown, the annotate page's finding-named markers and Soldati score buttons,
window/level and a click at a zoomed position landing on the right image coordinate."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from annotations.models import Contour, FrameScore
from annotations.services import (
    contours_import,
    frame_scores_import,
    video_findings_import,
    video_score_import,
)
from modelling.models import FramePrediction, ModelVersion
from studies.models import VideoAssignment
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_annotate_browser import FRAMES, _saves, _video
from viewer.selectors.contours import contour_agreement

pytestmark = pytest.mark.browser

SQUARE_A = [[20, 20], [60, 20], [60, 60], [20, 60]]
SQUARE_B = [[30, 20], [70, 20], [70, 60], [30, 60]]
SQUARE_C = [[25, 25], [65, 25], [65, 65], [25, 65]]


def _loaded(session) -> None:  # type: ignore[no-untyped-def]
    """Every frame fetched (function predicates: the pages' CSP forbids evaluating strings)."""
    session.page.wait_for_function("() => window.__annotate && window.__annotate.stats().loaded === "
                                   "window.__annotate.stats().total")


def _open(session, video, page: str = "annotate") -> None:  # type: ignore[no-untyped-def]
    session.goto(f"/videos/{video.pk}/{page}/")
    _loaded(session)


def _wait_saved(session, saves_before: int) -> None:  # type: ignore[no-untyped-def]
    session.page.wait_for_function(
        f"() => window.__annotate.saver.saves > {saves_before} && "
        "document.querySelector('#save-state').dataset.state === 'saved'", timeout=15000)


def _model(video) -> None:  # type: ignore[no-untyped-def]
    scorer = ModelVersion.objects.create(kind="frame_scorer", name="reg_stn", is_active=True)
    for frame in video.frames.all():
        p = [0.1, 0.2, 0.3, 0.4] if frame.index < 6 else [0.7, 0.1, 0.1, 0.1]
        FramePrediction.objects.create(frame=frame, model_version=scorer, probabilities=p, score=int(np.argmax(p)),
                                       crop_box_1=[[20, 10], [100, 10], [100, 90], [20, 90]],
                                       crop_box_2=[[60, 30], [150, 30], [150, 110], [60, 110]])


def test_clinician_frame_view_is_read_only(browse) -> None:  # type: ignore[no-untyped-def]
    ann = make_user("cw-ann", "annotator")
    doc = make_user("cw-doc", "clinician", 4)
    video = _video(ann)
    _model(video)
    frames = list(video.frames.order_by("index"))
    frame_scores_import(annotator=ann, scores={f.pk: 1 for f in frames})
    contours_import(annotator=ann, contours=[(frames[2].pk, 2, SQUARE_A)])
    video_score_import(annotator=ann, video_id=video.pk, score=1)
    video_findings_import(annotator=ann, video_id=video.pk, findings={"b_lines": True})

    session = browse()
    session.login("cw-doc")
    session.allow_console(r"status of 403")
    page = session.page
    # the annotate page stays closed to clinicians; the frame view is theirs
    assert page.goto(f"{session.server.url}/videos/{video.pk}/annotate/").status == 403
    session.goto(f"/videos/{video.pk}/frames/?frame=3")
    _loaded(session)
    expect(page.locator("#frame-counter")).to_have_text(f"Frame 3 / {FRAMES}")
    expect(page.locator("h1")).to_contain_text("Frames ·")
    # no write control anywhere: no score buttons, video score, comment, polygon tool or save state
    for selector in (".score-button", "input[name='video-score']", "#video-comment", "input[data-finding]",
                     "#marker-class", "#save-state"):
        expect(page.locator(selector)).to_have_count(0)
    # the model's per-frame output, its P(score) timeline, the annotator's row and their contours
    assert page.locator(".tl-label").all_inner_texts()[:2] == ["cw-ann (L1)", "Model"]
    assert page.locator("canvas.tl-chart").is_visible()
    expect(page.locator(".others-line").first).to_contain_text("Model:")
    expect(page.locator(".finding-others")).to_contain_text("cw-ann: B-lines ✓")
    expect(page.locator(".others-line", has_text="cw-ann: 1").last).to_be_visible()  # their video score
    expect(page.locator(".other-contour-list li[data-person]")).to_contain_text("cw-ann (L1) · 1 polygon")
    expect(page.get_by_role("button", name="Accept cw-ann's contours on this frame as mine")).to_have_count(0)
    # keys: overlays and stepping work, score keys write nothing; the URL follows the frame (from 1)
    page.keyboard.press("b")
    expect(page.locator("input[data-overlay='boxes']")).to_be_checked()
    page.keyboard.press("o")
    assert page.evaluate("window.__annotate.others.shown.size") == 0
    page.keyboard.press("2")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#frame-counter")).to_have_text(f"Frame 4 / {FRAMES}")
    page.wait_for_url("**/frames/?frame=4")
    page.keyboard.press("?")
    expect(page.locator("#annotate-help")).not_to_contain_text("Score this frame")
    page.keyboard.press("Escape")
    session.shot("frames-clinician")
    assert not FrameScore.objects.filter(annotator=doc).exists()
    # the API behind it: the frame view's state is open to clinicians, writes stay refused
    status = page.evaluate(f"fetch('/api/viewer/videos/{video.pk}/frames/').then(r => r.status)")
    assert status == 200


def test_validator_accepts_a_lower_levels_contour(browse) -> None:  # type: ignore[no-untyped-def]
    validator = make_user("cw-val", "validator", 2)
    ann_a, ann_b = make_user("cw-a", "annotator"), make_user("cw-b", "annotator")
    video = _video(ann_a)
    VideoAssignment.objects.create(video=video, annotator=ann_b)
    frame = video.frames.get(index=0)
    contours_import(annotator=ann_a, contours=[(frame.pk, 2, SQUARE_A)])
    contours_import(annotator=ann_b, contours=[(frame.pk, 2, SQUARE_B)])
    expected = contour_agreement(user=validator, video=video)[0]["dice"]

    session = browse()
    session.login("cw-val")
    _open(session, video)
    page = session.page
    rows = page.locator(".other-contour-list li[data-person]")
    expect(rows).to_have_count(2)
    row_a = page.locator(f".other-contour-list li[data-person='{ann_a.pk}']")
    # (fetched after the first frame; the server's first one imports ml.metrics, seconds on a busy machine)
    expect(row_a).to_contain_text(f"Dice {expected[str(ann_a.pk)]:.2f}", timeout=30000)
    expect(page.locator(".consensus-note")).to_contain_text("Consensus of 2 people")
    # toggle one person off and on (per person), then accept cw-a's polygon as mine
    page.get_by_label("Show cw-b's contours").uncheck()
    assert page.evaluate(f"window.__annotate.others.shown.has({ann_b.pk})") is False
    page.get_by_label("Show cw-b's contours").check()
    saves = _saves(session)
    page.get_by_role("button", name="Accept cw-a's contours on this frame as mine").click()
    _wait_saved(session, saves)
    mine = Contour.objects.get(annotator=validator)
    assert (mine.frame_id, mine.segmentation_class.index, mine.validation_level) == (frame.pk, 2, 2)
    assert mine.vertices == SQUARE_A
    # the annotators' contours are untouched
    assert Contour.objects.get(annotator=ann_a).vertices == SQUARE_A
    session.shot("annotate-validator-contours")


def test_score_buttons_markers_window_level_and_zoomed_clicks(browse) -> None:  # type: ignore[no-untyped-def]
    annotator = make_user("cw-ann2", "annotator")
    video = _video(annotator)
    session = browse()
    session.login("cw-ann2")
    _open(session, video)
    page = session.page
    # marker classes read as LUS findings; score buttons carry Soldati's meaning
    options = page.locator("#marker-class option").all_inner_texts()
    assert options == ["A-lines", "B-lines", "Consolidation", "White lung"]
    button = page.locator(".score-button.score-2")
    expect(button).to_contain_text("Broken")
    assert "broken pleural line" in button.get_attribute("title")
    page.locator("canvas.frame-canvas").focus()
    saves = _saves(session)
    page.keyboard.press("2")
    _wait_saved(session, saves)
    expect(button).to_have_attribute("aria-pressed", "true")
    mark = page.evaluate("getComputedStyle(document.querySelector('.score-button.score-2 .score-digit'), '::before').content")
    assert "✓" in mark  # not colour alone
    outline = page.evaluate("getComputedStyle(document.querySelector('.score-button.score-2')).outlineStyle")
    assert outline == "solid"

    # window/level by keys: brighter frame pixels, then reset
    centre = "(() => { const c = window.__annotate.view.canvas; return Array.from(c.getContext('2d')" \
             ".getImageData(c.width / 2, c.height / 2, 1, 1).data.slice(0, 3)); })()"
    before = page.evaluate(centre)
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("}")
    assert page.evaluate("[window.__annotate.view.brightness, window.__annotate.view.contrast]") == [1.2, 1.1]
    page.wait_for_timeout(100)
    assert page.evaluate(centre) != before
    assert page.locator("#brightness").input_value() == "1.2"
    page.keyboard.press("g")
    assert page.evaluate("[window.__annotate.view.brightness, window.__annotate.view.contrast]") == [1, 1]

    # zoom in three steps about the canvas centre (keys), then draw by clicking: the vertices land where
    # the fit-and-zoom geometry, computed here independently of the page's own transform, says they must
    size = page.evaluate("(() => { const c = window.__annotate.view.canvas; const r = c.getBoundingClientRect();"
                         " return {w: c.clientWidth, h: c.clientHeight, left: r.left, top: r.top}; })()")
    for _ in range(3):
        page.keyboard.press("=")  # (the + key without Shift)
    fit = min(size["w"] / 160, size["h"] / 120)
    x0, y0 = (size["w"] - 160 * fit) / 2, (size["h"] - 120 * fit) / 2
    scale = fit * 1.25 ** 3
    cx, cy = (size["w"] / 2 - x0) / fit, (size["h"] / 2 - y0) / fit  # the image point under the centre stays

    def screen(x: float, y: float) -> tuple[float, float]:
        return (size["left"] + size["w"] / 2 + (x + 0.5 - cx) * scale,
                size["top"] + size["h"] / 2 + (y + 0.5 - cy) * scale)

    polygon = [(70, 50), (90, 52), (84, 68)]
    page.keyboard.press("d")
    saves = _saves(session)
    for x, y in polygon:
        page.mouse.click(*screen(x, y))
    page.keyboard.press("Enter")
    _wait_saved(session, saves)
    stored = Contour.objects.get(annotator=annotator).vertices
    assert len(stored) == 3
    for (x, y), (sx, sy) in zip(polygon, stored, strict=True):
        assert abs(sx - x) < 0.1 and abs(sy - y) < 0.1, (polygon, stored)
    session.shot("annotate-zoomed-window")
