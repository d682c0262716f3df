"""Chromium, the export page (issue 15, item 7): an admin picks a format and filters (kept in the URL),
exports from the keyboard and saves the streamed file; a background export is followed until its
download link is ready (the test runs the job as the analysis worker would, from another thread)."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotations.services import frame_scores_import
from exchange.models import ExportJob
from exchange.services import export_job_run
from studies.models import Exam
from studies.services import patient_upsert, site_ensure
from tests.platform.conftest import _video
from tests.platform.viewer.conftest import make_user, open_page

pytestmark = pytest.mark.browser


@pytest.fixture
def labelled(live):  # type: ignore[no-untyped-def]
    """Two sites; the first's video has two frame scores by `exp-ann`, the second's one."""
    first, second = site_ensure(name="Export site A"), site_ensure(name="Export site B")
    annotator = make_user("exp-ann", "annotator")
    for number, site in ((5, first), (6, second)):
        exam = Exam.objects.create(patient=patient_upsert(site=site, code=f"E{number}"))
        frames = list(_video(exam, number).frames.order_by("index").values_list("pk", flat=True))
        scores = {frames[0]: 1, frames[1]: 2} if site == first else {frames[0]: 3}
        frame_scores_import(annotator=annotator, scores=scores)
    return first, second


def test_export_page_streams_and_runs_background_jobs(browse, labelled) -> None:  # type: ignore[no-untyped-def]
    first, _ = labelled
    make_user("exp-admin", "admin", 4)
    session = browse()
    session.login("exp-admin")
    open_page(session, "/exports/")
    page = session.page
    for fmt in ("csv", "jsonl", "coco", "labelme", "masks", "manifest"):
        expect(page.locator(f"#format-{fmt}")).to_be_attached()
    zone = page.get_by_label("BLUE zone")
    expect(zone.locator("option")).to_have_count(2)  # "All" and the one zone the videos have, with its count
    page.get_by_label("Site").select_option(str(first.pk))
    expect(page).to_have_url(f"{session.server.url}/exports/?format=csv&site={first.pk}")
    open_page(session, f"/exports/?format=csv&site={first.pk}")  # a reload keeps the filters
    expect(page.get_by_label("Site")).to_have_value(str(first.pk))

    page.get_by_role("button", name="Export").focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 2 and {row["annotator"] for row in rows} == {"exp-ann"}
    assert {row["site"] for row in rows} == {"Export site A"}
    expect(page.locator("#export-progress")).to_contain_text("Done: 2 labels")
    expect(page.locator("#export-download")).to_be_focused()

    # a background job: JSON Lines of every site, followed until its file can be downloaded
    page.locator("#format-jsonl").check()
    page.get_by_label("Site").select_option("")
    page.get_by_label("Run in the background").check()
    page.get_by_role("button", name="Export").click()
    expect(page.locator("#export-progress")).to_contain_text("Queued")  # (the job runs below, as a worker)
    job = ExportJob.objects.get()
    runner = threading.Thread(target=lambda: export_job_run(job_id=job.pk))
    runner.start()
    runner.join(timeout=60)
    link = page.locator("#export-download")
    expect(link).to_contain_text("Download (3 labels)", timeout=15_000)
    with page.expect_download() as download:
        link.click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == 3 and {json.loads(line)["annotator"] for line in lines} == {"exp-ann"}
    session.shot("exports")


def test_export_page_is_for_admins_and_clinicians(browse, live) -> None:  # type: ignore[no-untyped-def]
    make_user("exp-doc", "clinician", 4)
    make_user("exp-only-ann", "annotator")
    session = browse()
    session.login("exp-doc")
    open_page(session, "/exports/")
    expect(session.page.get_by_role("link", name="Exports")).to_have_attribute("aria-current", "page")
    other = browse()
    other.allow_console(r"403")
    other.login("exp-only-ann")
    response = other.page.goto(f"{other.server.url}/exports/")
    assert response is not None and response.status == 403
