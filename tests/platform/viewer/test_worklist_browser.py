"""Chromium: an annotator's worklist shows their progress, filters and sorts, and opens a video by keyboard."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from annotations.services import frame_scores_import, video_score_import
from studies.models import Exam, Frame, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser


def make_video(exam: Exam, name: str, *, frames: int, lung_zone: str = "", probe: str = "convex") -> Video:
    video = Video.objects.create(exam=exam, fps=25, frame_count=frames, width=64, height=48, format="mp4",
                                 source_file=f"{name}.mp4", original_name=f"{name}.mp4", lung_zone=lung_zone,
                                 probe=probe, sha256=f"{abs(hash(name)):064d}"[-64:])
    for index in range(frames):
        image = np.full((48, 64), 30, np.uint8)
        image[(index * 7) % 48, :] = 220  # a bright pleural line that moves, so frames differ
        _, png = cv2.imencode(".png", image)
        frame = Frame(video=video, index=index)
        frame.image.save(f"wl/{name}/{index}.png", ContentFile(png.tobytes()), save=True)
    return video


def test_annotator_worklist(browse) -> None:  # type: ignore[no-untyped-def]
    ann = make_user("wl-ann", "annotator")
    other = make_user("wl-other", "annotator")
    north, south = site_ensure(name="North Hospital"), site_ensure(name="South Clinic")
    exam_n = Exam.objects.create(patient=patient_upsert(site=north, code="N-001"))
    exam_s = Exam.objects.create(patient=patient_upsert(site=south, code="S-007"))
    done = make_video(exam_n, "north-l1", frames=4, lung_zone="L1")
    half = make_video(exam_n, "north-r2", frames=4, lung_zone="R2", probe="linear")
    fresh = make_video(exam_s, "south-l3", frames=4, lung_zone="L3")
    hidden = make_video(exam_s, "south-unassigned", frames=2)
    for video in (done, half, fresh):
        VideoAssignment.objects.create(video=video, annotator=ann)
    VideoAssignment.objects.create(video=hidden, annotator=other)
    frame_scores_import(annotator=ann, scores={f.pk: 1 for f in done.frames.all()})
    video_score_import(annotator=ann, video_id=done.pk, score=1)
    frame_scores_import(annotator=ann, scores={f.pk: 2 for f in half.frames.order_by("index")[:2]})
    frame_scores_import(annotator=other, scores={f.pk: 3 for f in fresh.frames.all()})  # not ann's progress

    session = browse()
    session.login("wl-ann")
    assert session.page.url.endswith("/worklist/")
    page = session.page
    session.goto("/worklist/")
    rows = page.locator("table.worklist tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3 and "south-unassigned" not in page.content()
    progress = {rows.nth(i).locator("th").inner_text().split("\n")[0]: rows.nth(i).locator(".count").inner_text()
                for i in range(3)}
    assert progress == {"north-l1.mp4": "4 / 4", "north-r2.mp4": "2 / 4", "south-l3.mp4": "0 / 4"}
    statuses = [rows.nth(i).locator(".status").inner_text() for i in range(3)]
    assert statuses == ["Done", "In progress", "Not started"]
    session.shot("worklist")

    # sort by progress, descending on the second press; aria-sort follows
    sort = page.get_by_role("button", name="Sort by Frames scored")
    sort.click()
    page.wait_for_function("document.querySelector('th[aria-sort=ascending] button')?.dataset.sort === 'progress'")
    assert rows.first.locator("th").inner_text().startswith("south-l3.mp4")
    page.get_by_role("button", name="Sort by Frames scored, descending").click()
    page.wait_for_function("document.querySelector('th[aria-sort=descending] button')?.dataset.sort === 'progress'")
    assert rows.first.locator("th").inner_text().startswith("north-l1.mp4")

    # filters: a status, then a site
    page.get_by_label("Status", exact=True).select_option("in_progress")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("th")).to_contain_text("north-r2.mp4")
    page.get_by_label("Status", exact=True).select_option("")
    expect(rows).to_have_count(3)
    page.get_by_label("Site", exact=True).select_option(label="South Clinic")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("th")).to_contain_text("south-l3.mp4")
    assert "site=" in page.url  # filters survive a reload
    page.get_by_role("button", name="Clear filters").click()
    expect(rows).to_have_count(3)

    # keyboard only: Tab reaches the rows, arrows move, Enter opens the annotate page
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('table.worklist tbody tr')"):
            break
    else:
        pytest.fail("Tab never reached a worklist row")
    page.keyboard.press("ArrowDown")
    target = page.evaluate("document.activeElement.dataset.video")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/videos/{target}/annotate/")


def test_validator_worklist_links_to_validate(browse) -> None:  # type: ignore[no-untyped-def]
    """A validator's worklist starts on what is ready for their level (lower-level labels, not validated
    yet); Status "All" shows every video."""
    make_user("wl-val", "validator", 2)
    ann = make_user("wl-ann2", "annotator")
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="West"), code="W-1"))
    video = make_video(exam, "west-l1", frames=2, lung_zone="L1")
    unlabelled = make_video(exam, "west-l2", frames=2, lung_zone="L2")
    for each in (video, unlabelled):
        VideoAssignment.objects.create(video=each, annotator=ann)
    frame_scores_import(annotator=ann, scores={f.pk: 1 for f in video.frames.all()})
    session = browse()
    session.login("wl-val")
    session.goto("/worklist/")
    rows = session.page.locator("table.worklist tbody tr")
    expect(session.page.get_by_label("Status", exact=True)).to_have_value("ready")
    expect(rows).to_have_count(1)
    assert "west-l1" in rows.first.inner_text()
    assert rows.first.get_attribute("data-href") == f"/videos/{video.pk}/validate/"  # Enter opens validate
    session.page.get_by_label("Status", exact=True).select_option(label="All")
    session.page.wait_for_url("**status=all*")
    expect(rows).to_have_count(2)
    session.page.get_by_label("Status", exact=True).select_option(label="Ready for my level")
    expect(rows).to_have_count(1)
    row = rows.first
    assert "wl-ann2" in row.inner_text()
    session.page.get_by_label("Assignee", exact=True).select_option(label="wl-ann2")
    session.page.wait_for_url("**assignee=*")
    assert row.get_by_role("link", name="Validate").get_attribute("href") == f"/videos/{video.pk}/validate/"
