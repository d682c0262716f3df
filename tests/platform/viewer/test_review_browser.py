"""Chromium: a clinician reviews a patient scored by two clinicians and a model, sees the disagreements
and the confusion matrix, accepts a model score (their own VideoScore in the database) and, by keyboard,
overrides another."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from annotations.models import VideoScore
from annotations.services import video_score_import
from modelling.models import ModelKind, ModelVersion, VideoPrediction
from studies.models import Exam, Frame, Video
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser


def make_video(exam: Exam, name: str, zone: str, frames: int = 3) -> Video:
    video = Video.objects.create(exam=exam, fps=25, frame_count=frames, width=64, height=48, format="mp4",
                                 source_file=f"{name}.mp4", original_name=f"{name}.mp4", lung_zone=zone,
                                 sha256=f"{abs(hash(name)):064d}"[-64:])
    for index in range(frames):
        image = np.full((48, 64), 40, np.uint8)
        image[(index * 9) % 48, :] = 230
        _, png = cv2.imencode(".png", image)
        Frame(video=video, index=index).image.save(f"rv/{name}/{index}.png", ContentFile(png.tobytes()), save=True)
    return video


def predict(version: ModelVersion, video: Video, score: int) -> None:
    probabilities = [0.05] * 4
    probabilities[score] = 0.85
    VideoPrediction.objects.create(video=video, model_version=version, score=score, probabilities=probabilities)


def test_clinician_reviews_and_accepts_a_model_score(browse) -> None:  # type: ignore[no-untyped-def]
    me = make_user("rv-doc", "clinician", 4)
    other = make_user("rv-doc2", "clinician", 4)
    site = site_ensure(name="Review Hospital")
    exam = Exam.objects.create(patient=patient_upsert(site=site, code="RV-001", covid_status="positive"))
    patient_upsert(site=site, code="RV-002")
    r1 = make_video(exam, "rv-r1", "R1")  # both say 2, model 1: model disagrees
    l1 = make_video(exam, "rv-l1", "L1")  # 0 and 3: raters disagree (tie), model 3
    r2 = make_video(exam, "rv-r2", "R2")  # both 1, model 1: all agree
    for video, mine, theirs in ((r1, 2, 2), (l1, 0, 3), (r2, 1, 1)):
        video_score_import(annotator=me, video_id=video.pk, score=mine)
        video_score_import(annotator=other, video_id=video.pk, score=theirs)
    model = ModelVersion.objects.create(kind=ModelKind.AGGREGATOR, name="uninorm_product_min", is_active=True)
    for video, score in ((r1, 1), (l1, 3), (r2, 1)):
        predict(model, video, score)

    session = browse()
    session.login("rv-doc")
    assert session.page.url.endswith("/review/")
    page = session.page
    session.goto("/review/")
    page.get_by_label("Find a patient").fill("RV-00")
    page.locator("button.patient", has_text="RV-001").click()
    card = page.locator(".video-card", has_text="rv-r1.mp4")
    expect(card).to_have_class(re.compile(r"model-disagrees"))
    expect(card.locator(".flag-model")).to_have_text("Model ≠ consensus")
    expect(page.locator(".video-card", has_text="rv-l1.mp4").locator(".flag-raters")).to_have_text("Raters disagree")
    expect(page.locator(".video-card", has_text="rv-r2.mp4").locator(".flags")).to_have_count(0)
    matrix = page.get_by_role("img", name=re.compile("Confusion matrix"))
    expect(matrix).to_be_visible()
    assert page.url.endswith(f"?patient={exam.patient_id}")
    expect(page.locator(".summary")).to_contain_text("2 of 3 videos with a disagreement")
    session.shot("review")

    card.get_by_role("button", name="Accept model score 1 for rv-r1.mp4").click()
    expect(page.locator(".toast").filter(has_text="Saved: your score 1 for rv-r1.mp4")).to_be_visible()
    mine = VideoScore.objects.get(video=r1, annotator=me)
    assert mine.score == 1 and mine.version == 2 and mine.comment == "accepted model score"
    # consensus (most expert, tie → undefined) no longer says 2, so the model no longer disagrees there
    expect(page.locator(".video-card", has_text="rv-r1.mp4").locator(".flag-raters")).to_have_text("Raters disagree")

    # keyboard only: focus my score button of rv-l1 and press Enter to set 3 (the model's)
    button = page.get_by_role("button", name="Set your score of rv-l1.mp4 to 3")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".toast").filter(has_text="Saved: your score 3 for rv-l1.mp4")).to_be_visible()
    assert VideoScore.objects.get(video=l1, annotator=me).score == 3
    expect(page.get_by_role("button", name="Set your score of rv-l1.mp4 to 3")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".video-card", has_text="rv-l1.mp4").locator(".flags")).to_have_count(0)

    # the confusion matrix over all patients, and a look at a video's frames
    page.get_by_label("all patients").check()
    expect(matrix).to_be_visible()
    # (the Frames link opens the read-only frame view: tests/platform/viewer/test_clinical_workflow_browser.py)
    page.get_by_role("link", name="Frames of rv-r2.mp4").click()
    page.wait_for_url(f"**/videos/{r2.pk}/frames/")
    page.wait_for_selector("#app[aria-busy='false']")
    expect(page.locator("#frame-counter")).to_have_text("Frame 1 / 3")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#frame-counter")).to_have_text("Frame 2 / 3")


def test_a_failed_save_is_kept_and_retried(browse) -> None:  # type: ignore[no-untyped-def]
    """The server answers 503 a few times: the score stays unsaved on screen, leaving asks, and the
    retry writes it once the server is back."""
    me = make_user("rv-doc3", "clinician", 4)
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Retry Hospital"), code="RT-1"))
    video = make_video(exam, "rt-l2", "L2", frames=1)
    model = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    predict(model, video, 2)

    session = browse()
    session.allow_console(r"status of 503")
    session.login("rv-doc3")
    page = session.page
    failures = {"left": 4}  # api() retries twice itself, so the first attempt fails for good and one retry too

    def flaky(route):  # type: ignore[no-untyped-def]
        if route.request.method == "POST" and failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(status=503, content_type="application/json", body='{"detail": "down for a moment"}')
        else:
            route.continue_()

    page.route("**/api/video-scores/", flaky)
    session.goto(f"/review/?patient={exam.patient_id}")
    page.get_by_role("button", name="Accept model score 2 for rt-l2.mp4").click()
    unsaved = page.locator(".video-card .unsaved")
    expect(unsaved).to_contain_text("Unsaved: down for a moment")
    assert not VideoScore.objects.filter(annotator=me).exists()
    leaving = page.evaluate("() => { const e = new Event('beforeunload', {cancelable: true}); "
                            "window.dispatchEvent(e); return e.defaultPrevented; }")
    assert leaving is True  # the browser asks before leaving
    expect(page.locator(".toast", has_text="Saved: your score 2 for rt-l2.mp4")).to_be_visible(timeout=20_000)
    assert VideoScore.objects.get(annotator=me, video=video).score == 2
    expect(unsaved).to_have_count(0)
