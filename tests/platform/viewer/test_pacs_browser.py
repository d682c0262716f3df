"""Chromium: an admin connects the test Orthanc on the PACS page, tests the connection, searches for US
studies (patients shown only as pseudonyms), imports the selected study, and imports it again for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from pacs.models import ImportedInstance
from studies.ingest.pseudonyms import pseudonymous_code
from studies.models import Video
from studies.services import site_ensure
from tests.platform.pacs.dicom_files import dicom_bytes, us_multiframe
from tests.platform.pacs.orthanc import orthanc_available, orthanc_running
from tests.platform.viewer.conftest import make_user, open_page

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_admin_connects_searches_and_imports(browse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not orthanc_available():
        pytest.skip("Debian's orthanc and orthanc-dicomweb are not installed")
    make_user("pacs-admin", "admin")
    site_ensure(name="General")
    source = us_multiframe(frames=8, patient_id="MRN-BROWSER")
    with orthanc_running(tmp_path / "orthanc") as orthanc:
        orthanc.upload(dicom_bytes(source))
        admin = browse()
        admin.login("pacs-admin")
        page = admin.page
        open_page(admin, "/dashboard/")  # patient: the first load on a busy machine can take long
        page.get_by_role("link", name="Pacs").click()
        page.wait_for_url("**/pacs/")
        page.wait_for_selector("#app[aria-busy='false']", timeout=60_000)
        expect(page.get_by_text("No PACS connected yet.")).to_be_visible()

        page.get_by_label("Name", exact=True).fill("orthanc")
        page.get_by_label("QIDO-RS URL").fill(orthanc.dicomweb)
        page.get_by_label("Authentication").select_option("basic")
        page.get_by_label("User name").fill("reader")
        page.get_by_label("Password or token").fill("s3cret")
        page.get_by_role("button", name="Add").click()
        row = page.locator("table.endpoints tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("basic (secret set)")
        expect(row).not_to_contain_text("s3cret")
        row.get_by_role("button", name="Test connection").click()
        expect(row.locator(".check-result")).to_have_text("connected")

        page.get_by_label("From").fill("2026-11-01")
        page.get_by_role("button", name="Search").click()
        studies = page.locator("table.studies tbody tr")
        expect(studies).to_have_count(1)
        code = pseudonymous_code("MRN-BROWSER", key=settings.PLEURA_PSEUDONYM_KEY)
        expect(studies.locator("td.patient")).to_have_text(code)
        expect(page.locator("table.studies")).not_to_contain_text("MRN-BROWSER")

        studies.get_by_role("button", name="Series…").click()
        page.locator("input.series-choice").check()
        page.get_by_role("button", name="Import selected").click()
        summary = page.locator("p.import-summary")
        expect(summary).to_contain_text("Imported 1 new video(s); 0 already imported", timeout=30_000)
        page.get_by_role("button", name="Import selected").click()
        expect(summary).to_contain_text("Imported 0 new video(s); 1 already imported", timeout=30_000)
        admin.shot("pacs-page")
    assert Video.objects.count() == 1 and ImportedInstance.objects.count() == 1
