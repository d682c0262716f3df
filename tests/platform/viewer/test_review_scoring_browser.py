"""Chromium, review (issue 15, items 10 and QA): a version activated without predictions is being scored,
and the review page says so with the job (admins get a link that follows it on the dashboard) instead
of an unexplained "no prediction"; a patient code that says "patient" is not printed after the word
patient again ("patient_10", not "Patient patient_10")."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from modelling.models import TrainingJob
from modelling.services import model_version_activate
from studies.models import Exam
from studies.services import patient_upsert, site_ensure
from tests.platform.modelling.test_job_submission import make_version
from tests.platform.viewer.conftest import make_user, open_page
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_review_says_scoring_is_in_progress(browse, tmp_path) -> None:  # type: ignore[no-untyped-def]
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Scoring site"), code="patient_10"))
    make_video(exam, "sc-r1", frames=2, lung_zone="R1")
    version = model_version_activate(version=make_version(tmp_path))
    job = TrainingJob.objects.get(model_version=version)
    make_user("sc-admin", "admin", 4)
    session = browse()
    session.login("sc-admin")
    open_page(session, f"/review/?patient={exam.patient_id}")
    page = session.page
    expect(page.locator(".patient-head h2")).to_contain_text("patient_10")
    expect(page.locator(".patient-head h2")).not_to_contain_text("Patient patient_10")
    note = page.get_by_role("status").filter(has_text="Scoring in progress")
    expect(note).to_contain_text(f"job #{job.pk} queued")
    link = note.get_by_role("link", name=f"job #{job.pk}")
    link.focus()
    page.keyboard.press("Enter")  # the dashboard follows the linked job
    page.wait_for_url(f"**/dashboard/?job={job.pk}")
    expect(page.locator(f".job-panel[data-job='{job.pk}']")).to_contain_text(f"scoring {version.kind}", timeout=30_000)
