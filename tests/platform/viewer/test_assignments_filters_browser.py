"""Chromium, Assignments filters (issue 15, QA): they live in the URL, so a reload (or a shared link) keeps
them, and the zone filter lists only the BLUE zones that have videos, with their counts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studies.models import Exam
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user, open_page
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_filters_survive_a_reload_and_zones_have_videos(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("af-admin", "admin")
    site = site_ensure(name="North")
    exam = Exam.objects.create(patient=patient_upsert(site=site, code="N-1"))
    for name, zone in (("n-l1", "L1"), ("n-l1-b", "L1"), ("n-r1", "R1")):
        make_video(exam, name, frames=2, lung_zone=zone)
    session = browse()
    session.login("af-admin")
    open_page(session, "/assignments/")
    page = session.page
    zone = page.get_by_label("BLUE zone")
    expect(zone.locator("option")).to_have_text(["All", "L1 (2 videos)", "R1 (1 video)"])

    page.get_by_label("Site").select_option(str(site.pk))
    zone.select_option("R1")
    page.get_by_label("Status").select_option("unassigned")
    rows = page.locator("section.assign-videos tbody tr")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(f"{session.server.url}/assignments/?site={site.pk}&lung_zone=R1&status=unassigned")

    open_page(session, page.url.replace(session.server.url, ""))  # reload: the same filters, the same videos
    expect(page.get_by_label("Site")).to_have_value(str(site.pk))
    expect(page.get_by_label("BLUE zone")).to_have_value("R1")
    expect(page.get_by_label("Status")).to_have_value("unassigned")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("n-r1")
