"""Chromium: video findings. On the annotate page an annotator toggles findings by keyboard (keys shown in
the ? help) and by clicking, they autosave as versioned writes and are there after a reload; the validate
and review pages show every visible rater's findings; the agreement page shows a findings report."""

from __future__ import annotations

from importlib import import_module

import pytest
from playwright.sync_api import expect

from agreement.services import agreement_report_compute, agreement_report_request
from annotations.models import Finding, VideoFinding
from annotations.services import video_findings_import, video_score_import
from studies.models import Exam
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_annotate_browser import _open, _saves, _video, _wait_saved
from tests.platform.viewer.test_review_browser import make_video

pytestmark = pytest.mark.browser


def _seed_findings() -> None:
    """The migration's vocabulary (an earlier transactional test may have flushed it, see _seed_classes)."""
    for order, (code, name, description) in enumerate(import_module("annotations.migrations.0005_seed_findings").FINDINGS):
        Finding.objects.get_or_create(code=code, defaults={"name": name, "description": description, "order": order})


def _box(page, code: str):  # type: ignore[no-untyped-def]
    return page.locator(f"input[data-finding='{code}']")


def test_findings_by_keyboard_are_saved_and_persist(browse) -> None:  # type: ignore[no-untyped-def]
    _seed_findings()
    annotator = make_user("fd-ann", "annotator")
    video = _video(annotator)
    session = browse()
    session.login("fd-ann")
    _open(session, video)
    page = session.page

    # the ? help lists a key per finding; not stated yet: every checkbox is indeterminate
    page.keyboard.press("?")
    help_dialog = page.locator("#annotate-help")
    expect(help_dialog).to_contain_text("Findings")
    expect(help_dialog.locator("dt", has_text="5").first).to_be_visible()
    expect(help_dialog).to_contain_text("B-lines: present / absent")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    assert page.evaluate("document.querySelector(\"input[data-finding='b_lines']\").indeterminate")

    page.locator("canvas.frame-canvas").focus()
    saves = _saves(session)
    page.keyboard.press("5")  # B-lines present
    expect(_box(page, "b_lines")).to_be_checked()
    _wait_saved(session, saves)
    label = VideoFinding.objects.get(annotator=annotator, finding__code="b_lines")
    assert (label.present, label.version, label.validation_level) == (True, 1, 1)

    saves = _saves(session)
    page.keyboard.press("5")  # again: absent
    page.keyboard.press("4")  # A-lines present
    expect(_box(page, "b_lines")).not_to_be_checked()
    _wait_saved(session, saves)
    assert dict(VideoFinding.objects.filter(annotator=annotator).values_list("finding__code", "present")) == {
        "b_lines": False, "a_lines": True}
    assert VideoFinding.objects.get(annotator=annotator, finding__code="b_lines").version == 2

    saves = _saves(session)
    _box(page, "effusion").click()  # a click works too
    _wait_saved(session, saves)
    session.shot("annotate-findings")

    page.reload()
    page.wait_for_function("window.__annotate && window.__annotate.stats().loaded === window.__annotate.stats().total")
    expect(_box(page, "a_lines")).to_be_checked()
    expect(_box(page, "effusion")).to_be_checked()
    expect(_box(page, "b_lines")).not_to_be_checked()
    states = page.evaluate("[...document.querySelectorAll('input[data-finding]')].map(b => "
                           "[b.dataset.finding, b.checked, b.indeterminate])")
    assert dict((code, (checked, unknown)) for code, checked, unknown in states) == {
        "a_lines": (True, False), "b_lines": (False, False), "irregular_pleura": (False, True),
        "consolidation": (False, True), "white_lung": (False, True), "effusion": (True, False)}
    assert VideoFinding.objects.filter(annotator=annotator).count() == 3


def test_validate_and_review_show_every_visible_raters_findings(browse) -> None:  # type: ignore[no-untyped-def]
    _seed_findings()
    validator = make_user("fd-val", "validator", 2)
    ann = make_user("fd-x", "annotator", 1)
    doc = make_user("fd-doc", "clinician", 4)
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Findings Site"), code="FD-1"))
    video = make_video(exam, "fd-r1", "R1")
    video_score_import(annotator=ann, video_id=video.pk, score=2)
    video_findings_import(annotator=ann, video_id=video.pk, findings={"b_lines": True, "a_lines": False})
    video_findings_import(annotator=doc, video_id=video.pk, findings={"consolidation": True})
    video_findings_import(annotator=validator, video_id=video.pk, findings={"effusion": False})

    session = browse()
    session.login("fd-val")
    session.goto(f"/videos/{video.pk}/validate/")
    panel = session.page.locator(".findings-panel")
    expect(panel.locator(".finding-row", has_text="fd-x")).to_contain_text("B-lines ✓")
    expect(panel.locator(".finding-row", has_text="fd-x")).to_contain_text("A-lines ✗")
    expect(panel.locator(".finding-row", has_text="Mine")).to_contain_text("Pleural effusion ✗")
    assert "Consolidation" not in panel.locator("dl.findings").inner_text()  # level 4: above the validator
    # (the validator's own findings editor lists the whole vocabulary: test_validate_browser.py)

    reviewer = browse()
    reviewer.login("fd-doc")
    reviewer.goto(f"/review/?patient={exam.patient_id}")
    card = reviewer.page.locator(f"article.video-card[data-video='{video.pk}']")
    expect(card.locator("dl.findings")).to_be_visible()
    expect(card.locator(".finding-row", has_text="fd-x")).to_contain_text("B-lines ✓")
    expect(card.locator(".finding-row", has_text="fd-doc (you)")).to_contain_text("Consolidation ✓")
    expect(card.locator(".finding-row", has_text="fd-val")).to_contain_text("Pleural effusion ✗")
    reviewer.shot("review-findings")


def test_agreement_page_shows_a_findings_report(browse) -> None:  # type: ignore[no-untyped-def]
    _seed_findings()
    raters = [make_user(f"fa-{n}", "annotator", 1) for n in range(3)]
    make_user("fa-val", "validator", 2)
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Agreement Findings"), code="FA-1"))
    videos = [make_video(exam, f"fa-{n}", "R1", frames=1) for n in range(4)]
    for n, video in enumerate(videos):
        for k, rater in enumerate(raters):
            video_findings_import(annotator=rater, video_id=video.pk,
                                  findings={"b_lines": (n + (k == 2)) % 2 == 0, **({"a_lines": True} if k == 0 else {})})
    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "finding"}).pk)
    assert report.status == "ready", report.error

    session = browse()
    session.login("fa-val")
    session.goto(f"/agreement/?report={report.pk}")
    page = session.page
    table = page.locator("table.findings-table")
    expect(table.locator("tr[data-finding='b_lines']")).to_contain_text("B-lines")
    b_lines = next(f for f in report.statistics["findings"] if f["code"] == "b_lines")
    expect(table.locator("tr[data-finding='b_lines']")).to_contain_text(f"{b_lines['fleiss_kappa']['available']['value']:.3f}")
    expect(table.locator("tr[data-finding='a_lines']")).to_contain_text("undefined")
    expect(page.get_by_role("img", name="Cohen's kappa of B-lines")).to_be_visible()
    assert "NaN" not in page.locator("article.report").inner_text()
    session.shot("agreement-findings")
