"""Chromium: an admin reads the dataset statistics, starts a tiny training job (a real Celery worker on
the CPU), sees the field error of a bad parameter, follows the job live until it succeeds with its
curves drawn, finds the new active version and its activation in the history, and cancels a second job
from the jobs list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from exchange.phantoms import phantoms_generate
from modelling.models import JobStatus, JobType, ModelVersion, TrainingJob
from tests.platform.modelling.conftest import wait_for
from tests.platform.viewer.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def fill_tiny_job(page, epochs: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("form.training")
    form.get_by_label("Model kind").select_option("frame_scorer")  # the default kind is the embedding recipe
    form.get_by_label("Epochs", exact=True).fill(epochs)
    form.get_by_label("Batch size").fill("16")
    form.get_by_label("Image size (px)").fill("64")
    form.get_by_label("Learning rate").fill("0.003")
    form.get_by_label("Validation share of patients").fill("0")


def test_admin_dashboard_trains_a_model(browse, celery_worker) -> None:  # type: ignore[no-untyped-def]
    phantoms_generate(videos=6, frames=16, size=64, annotators=0, seed=3)
    make_user("db-admin", "admin", 4)
    session = browse()
    session.allow_console(r"status of 400")  # the bad parameter below, answered 400 on purpose
    session.login("db-admin")
    page = session.page
    assert page.url.endswith("/dashboard/")
    session.goto("/dashboard/")
    expect(page.locator(".totals .total", has_text="Videos").locator("dd")).to_have_text("6")
    for name in ("Frame scores by score", "Video scores by score", "Frame scores per validation level",
                 "Labels per annotator (all kinds)"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    session.shot("dashboard")

    form = page.locator("form.training")
    fill_tiny_job(page, "0")
    form.get_by_role("button", name="Start training").click()
    epochs = form.get_by_label("Epochs", exact=True)
    expect(epochs).to_have_attribute("aria-invalid", "true")
    message = page.locator(f"#{epochs.get_attribute('aria-describedby')}")  # the error the field points to
    expect(message).to_contain_text("epochs must be >= 1")
    assert TrainingJob.objects.count() == 0

    fill_tiny_job(page, "2")
    form.get_by_role("button", name="Start training").click()
    panel = page.locator(".job-panel")
    expect(panel).to_be_visible()
    job = TrainingJob.objects.get()
    bar = panel.get_by_label(f"Progress of job {job.pk}")
    assert float(bar.get_attribute("value") or 0) == 0
    page.wait_for_function("() => document.querySelector('.job-panel progress').value > 0", timeout=180_000)
    expect(panel.locator(".status-succeeded")).to_be_visible(timeout=240_000)
    expect(bar).to_have_attribute("value", "1")
    expect(panel.get_by_role("img", name=f"Loss curves of job {job.pk}").locator("path.series").first).to_be_visible()
    expect(panel.get_by_role("img", name=f"Metric curves of job {job.pk}").locator("path.series").first).to_be_visible()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.model_version is not None, job.error
    version = ModelVersion.objects.get()
    expect(page.locator(f"tr[data-version='{version.pk}']")).to_contain_text("active")
    expect(page.get_by_role("button", name="Roll back frame_scorer")).to_be_visible()
    history = page.locator(".activations li")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(f"frame_scorer: none → v{version.pk}")
    expect(history.first).to_contain_text("by db-admin")
    session.shot("dashboard-job")

    # a long job, cancelled from the jobs list while it runs
    fill_tiny_job(page, "200")
    form.get_by_role("button", name="Start training").click()
    expect(page.locator(".job-panel")).to_have_count(2)
    long_job = TrainingJob.objects.filter(job_type=JobType.TRAINING).exclude(pk=job.pk).get()  # (and a scoring job)
    wait_for(lambda: (TrainingJob.objects.get(pk=long_job.pk).progress or {}).get("step"), timeout=180,
             what="the long job to run", worker=celery_worker)
    row = page.locator(f"tr[data-job='{long_job.pk}']")
    row.get_by_role("button", name=f"Cancel job {long_job.pk}").click()
    expect(page.locator(f".job-panel[data-job='{long_job.pk}'] .status-cancelled")).to_be_visible(timeout=60_000)
    expect(page.locator(f"tr[data-job='{long_job.pk}']")).to_contain_text(re.compile("cancelled"))
    assert TrainingJob.objects.get(pk=long_job.pk).status == JobStatus.CANCELLED
