"""Chromium: a validator accepts one annotator's frame score, corrects another, accepts the agreeing
frames and a video score, and recovers from a conflicting change; the database holds the validator's
own labels at the validator's level, and the annotators' labels are untouched."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import FrameScore, VideoScore
from annotations.services import frame_scores_import, frame_scores_write, video_score_import
from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser

X_SCORES = [0, 1, 2, 3, 1, 1, 2, 0, 3, 2]
Y_SCORES = [0, 2, 2, 3, 0, 1, 2, 0, 1, 2]  # disagree on frames 1, 4 and 8


def test_validator_accepts_and_corrects(browse) -> None:  # type: ignore[no-untyped-def]
    validator = make_user("wl-validator", "validator", 2)
    ann_x, ann_y = make_user("wl-x", "annotator"), make_user("wl-y", "annotator")
    senior = make_user("wl-senior", "validator", 3)
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="East"), code="E-042"))
    video = make_video(exam, "east-r1", frames=10, lung_zone="R1")
    for person in (ann_x, ann_y):
        VideoAssignment.objects.create(video=video, annotator=person)
    frames = list(video.frames.order_by("index"))
    frame_scores_import(annotator=ann_x, scores={f.pk: s for f, s in zip(frames, X_SCORES, strict=True)})
    frame_scores_import(annotator=ann_y, scores={f.pk: s for f, s in zip(frames, Y_SCORES, strict=True)})
    frame_scores_import(annotator=senior, scores={frames[0].pk: 3})  # level 3: above the validator, not shown
    video_score_import(annotator=ann_x, video_id=video.pk, score=2)
    video_score_import(annotator=ann_y, video_id=video.pk, score=3)

    session = browse()
    session.login("wl-validator")
    session.goto(f"/videos/{video.pk}/validate/")
    page = session.page
    expect(page.locator("table.frames thead")).to_contain_text("wl-x")
    assert "wl-senior" not in page.locator("table.frames thead").inner_text()
    row = lambda index: page.locator(f"tr[data-index='{index}']")  # noqa: E731

    # (labels show frame numbers counted from 1: stored index + 1; row(i) and data-index are the index)
    # accept wl-y's score of index 1 (they disagree there), correct index 4 to a value nobody gave
    page.get_by_role("button", name="Accept wl-y's score 2 for frame 2").click()
    expect(row(1).locator(".state")).to_have_text("✓ Validated")
    page.get_by_role("button", name="Score frame 5 as 3").click()
    expect(row(4).locator(".state")).to_have_text("✓ Validated")
    # every frame is on one dense list; the keyboard: 0–3 within a row set my score and move to the next row
    expect(page.locator(".pager")).to_contain_text("Frames 1–10 of 10")
    row(8).get_by_role("button", name="Score frame 9 as 0").focus()
    page.keyboard.press("2")
    expect(row(8).locator(".state")).to_have_text("✓ Validated")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Frame 10"  # on to the next row
    page.get_by_role("button", name="Accept wl-y's video score 3").click()
    expect(page.locator(".video-panel .state")).to_have_text("✓ Validated: 3")
    expect(page.locator(".validated-count")).to_contain_text("3 of 10")
    session.shot("validate")

    mine = {s.frame_id: s for s in FrameScore.objects.filter(annotator=validator)}
    assert {f: (s.score, s.validation_level) for f, s in mine.items()} == {
        frames[1].pk: (2, 2), frames[4].pk: (3, 2), frames[8].pk: (2, 2)}
    video_label = VideoScore.objects.get(annotator=validator, video=video)
    assert (video_label.score, video_label.validation_level) == (3, 2)

    # one bulk request accepts the 7 frames where both annotators agree
    page.get_by_role("button", name="Accept all agreeing frames (7)").click()
    expect(page.locator(".validated-count")).to_contain_text("10 of 10")
    mine = dict(FrameScore.objects.filter(annotator=validator).values_list("frame__index", "score"))
    assert mine == {i: (X_SCORES[i] if X_SCORES[i] == Y_SCORES[i] else {1: 2, 4: 3, 8: 2}[i]) for i in range(10)}

    # a conflict: the validator's label of frame 4 changes behind the page's back (another tab)
    label = FrameScore.objects.get(annotator=validator, frame=frames[4])
    frame_scores_write(user=validator, video=video, items=[{"frame": frames[4].pk, "score": 1, "version": label.version}])
    session.allow_console(r"409")
    page.get_by_role("button", name="Score frame 5 as 0").click()
    conflict = page.get_by_role("dialog")
    expect(conflict).to_contain_text("frame #5: score 1")
    expect(row(4).get_by_role("button", name="Score frame 5 as 1")).to_have_attribute("aria-pressed", "true")
    conflict.get_by_role("button", name="Save my choice again").click()
    expect(row(4).get_by_role("button", name="Score frame 5 as 0")).to_have_attribute("aria-pressed", "true")
    expect(row(4).locator(".state")).to_have_text("✓ Validated")
    assert FrameScore.objects.get(annotator=validator, frame=frames[4]).score == 0

    # the annotators' labels are as they were
    assert list(FrameScore.objects.filter(annotator=ann_x).order_by("frame__index").values_list("score", flat=True)) \
        == X_SCORES
    assert VideoScore.objects.get(annotator=ann_y, video=video).score == 3


def test_failed_save_is_kept_and_retried(browse) -> None:  # type: ignore[no-untyped-def]
    validator = make_user("wl-validator2", "validator", 2)
    ann = make_user("wl-z", "annotator")
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="South"), code="S-9"))
    video = make_video(exam, "south-r3", frames=3, lung_zone="R3")
    VideoAssignment.objects.create(video=video, annotator=ann)
    frame_scores_import(annotator=ann, scores={f.pk: 1 for f in video.frames.all()})

    session = browse()
    session.login("wl-validator2")
    session.goto(f"/videos/{video.pk}/validate/")
    page = session.page
    session.allow_console(r"ERR_FAILED|Failed to load resource")
    page.route("**/frame-scores/", lambda route: route.abort())  # the server cannot be reached
    page.get_by_role("button", name="Score frame 3 as 3").click()
    expect(page.locator("tr[data-index='2'] .state")).to_have_text("Unsaved", timeout=10000)
    expect(page.get_by_role("alert").first).to_contain_text("Not saved")
    assert not FrameScore.objects.filter(annotator=validator).exists()

    # leaving now asks first
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.close(run_before_unload=True)
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"] and not page.is_closed()

    page.unroute("**/frame-scores/")
    page.get_by_role("button", name="Retry unsaved (1)").click()
    expect(page.locator("tr[data-index='2'] .state")).to_have_text("✓ Validated")
    label = FrameScore.objects.get(annotator=validator)
    assert (label.frame.index, label.score, label.validation_level) == (2, 3, 2)


def test_dense_list_by_keyboard_and_findings(browse) -> None:  # type: ignore[no-untyped-def]
    """One row per frame, all on one list: Enter accepts the consensus, 0–3 score, j/k and End move (each
    score moves on); the validator states video findings here at their level."""
    from annotations.models import VideoFinding
    from tests.platform.viewer.test_findings_browser import _seed_findings

    _seed_findings()
    validator = make_user("dl-val", "validator", 2)
    people = [make_user(f"dl-{n}", "annotator") for n in "xyz"]
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Dense"), code="D-1"))
    video = make_video(exam, "dense-l1", frames=30, lung_zone="L1")
    frames = list(video.frames.order_by("index"))
    scores = {person.pk: {f.pk: (f.index + k * (f.index % 3 == 0)) % 4 for f in frames}
              for k, person in enumerate(people[:2])}
    scores[people[2].pk] = scores[people[0].pk]  # z agrees with x: a consensus on every frame
    for person in people:
        frame_scores_import(annotator=person, scores=scores[person.pk])
    consensus = {f.index: scores[people[0].pk][f.pk] for f in frames}

    session = browse()
    session.login("dl-val")
    session.goto(f"/videos/{video.pk}/validate/")
    page = session.page
    expect(page.locator("table.frames tbody tr")).to_have_count(30)
    expect(page.locator("#validate-keys")).to_contain_text("accept the consensus")
    page.locator("tr[data-position='0']").focus()
    page.keyboard.press("Enter")  # frame 1: the consensus, then on to frame 2
    page.keyboard.press("3")      # frame 2: 3
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")  # frame 3: the consensus
    page.keyboard.press("End")
    page.keyboard.press("1")      # frame 30: 1
    for index in (0, 1, 2, 29):
        expect(page.locator(f"tr[data-index='{index}'] .state")).to_have_text("✓ Validated")
    mine = dict(FrameScore.objects.filter(annotator=validator).values_list("frame__index", "score"))
    assert mine == {0: consensus[0], 1: 3, 2: consensus[2], 29: 1}
    assert set(FrameScore.objects.filter(annotator=validator).values_list("validation_level", flat=True)) == {2}

    # findings at the validator's level, by the Present / Absent buttons
    page.get_by_role("button", name="B-lines: present").click()
    expect(page.get_by_role("button", name="B-lines: present")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="A-lines: absent").click()
    expect(page.get_by_role("button", name="A-lines: absent")).to_have_attribute("aria-pressed", "true")
    stated = {f.finding.code: (f.present, f.validation_level) for f in VideoFinding.objects.filter(annotator=validator)}
    assert stated == {"b_lines": (True, 2), "a_lines": (False, 2)}
    page.get_by_role("button", name="B-lines: absent").click()  # a change, based on the version just saved
    expect(page.get_by_role("button", name="B-lines: absent")).to_have_attribute("aria-pressed", "true")
    assert VideoFinding.objects.get(annotator=validator, finding__code="b_lines").present is False
    session.shot("validate-dense")
