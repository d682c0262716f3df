"""Chromium, dashboard jobs (no worker: the test drives the job rows through the services a worker calls,
from another thread, as a worker would): the table and the live panel show the same state (the table no
longer says "queued" while the panel draws the loss), queued jobs say where they wait, scoring jobs show
their progress, the training form's kind is not cut, and it all works from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from modelling.models import JobStatus, JobType, ModelKind, TrainingJob
from modelling.services import training_job_finish, training_job_progress, training_job_start
from tests.platform.viewer.conftest import as_worker, make_user, open_page

pytestmark = pytest.mark.browser



def test_table_and_panel_show_one_state_with_queue_and_scoring(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("jobs-admin", "admin", 4)
    running = TrainingJob.objects.create(kind=ModelKind.EMBEDDING, status=JobStatus.RUNNING,
                                         progress={"epoch": 1, "epochs": 4, "step": 1, "steps": 4})
    waiting = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.QUEUED)
    scoring = TrainingJob.objects.create(job_type=JobType.SCORING, kind=ModelKind.EMBEDDING, status=JobStatus.QUEUED)
    session = browse()
    session.login("jobs-admin")
    open_page(session, "/dashboard/")
    page = session.page

    row = page.locator(f"tr[data-job='{waiting.pk}']")
    expect(row).to_contain_text("training frame_scorer")
    expect(row).to_contain_text(f"1st in the training queue, waiting for job #{running.pk}")
    scoring_row = page.locator(f"tr[data-job='{scoring.pk}']")
    expect(scoring_row).to_contain_text("scoring embedding")
    expect(scoring_row).to_contain_text("1st in the scoring queue, waiting for a worker")

    # keyboard: focus the Follow button and press Enter
    follow = page.get_by_role("button", name=f"Follow job {waiting.pk}")
    follow.focus()
    page.keyboard.press("Enter")
    panel = page.locator(f".job-panel[data-job='{waiting.pk}']")
    expect(panel).to_contain_text(f"waiting for job #{running.pk}")

    # the worker takes the job and reports a loss: panel and table say running together
    as_worker(lambda: training_job_finish(job=running, status=JobStatus.SUCCEEDED))
    as_worker(lambda: training_job_start(job_id=waiting.pk, task_id="t", worker_host="w", device="cpu"))
    job = TrainingJob.objects.get(pk=waiting.pk)
    as_worker(lambda: training_job_progress(job=job, progress={
        "phase": "train", "epoch": 1, "epochs": 2, "step": 2, "steps": 4, "loss": 0.7, "history": []}))
    expect(panel.locator(".status-running")).to_be_visible(timeout=15_000)
    expect(panel).to_contain_text("loss 0.7000")
    expect(row.locator(".status-running")).to_be_visible(timeout=10_000)
    expect(row.get_by_label(f"Progress of job {waiting.pk}")).to_have_attribute("value", "0.25")
    expect(page.locator("tr[data-status='queued']")).to_have_count(1)  # only the scoring job still waits

    # scoring: progress in videos, in the table without a panel
    as_worker(lambda: training_job_start(job_id=scoring.pk, task_id="s", worker_host="w", device="cpu"))
    scoring_job = TrainingJob.objects.get(pk=scoring.pk)
    as_worker(lambda: training_job_progress(job=scoring_job, progress={
        "phase": "scoring", "model": "embedding v1", "step": 3, "steps": 4}))
    expect(scoring_row.get_by_label(f"Progress of job {scoring.pk}")).to_have_attribute("value", "0.75",
                                                                                          timeout=10_000)
    page.get_by_role("button", name=f"Follow job {scoring.pk}").click()
    scoring_panel = page.locator(f".job-panel[data-job='{scoring.pk}']")
    expect(scoring_panel).to_contain_text("scoring embedding: 3 of 4 videos (embedding v1)")
    session.shot("dashboard-jobs-queue-scoring")


def test_training_form_shows_the_whole_kind(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("kind-admin", "admin", 4)
    session = browse()
    session.login("kind-admin")
    open_page(session, "/dashboard/")
    page = session.page
    select = page.get_by_label("Model kind")
    for value in ModelKind.values:
        select.select_option(value)
        fits = page.evaluate("""(el) => {
          const ctx = document.createElement('canvas').getContext('2d');
          ctx.font = getComputedStyle(el).font;
          return ctx.measureText(el.selectedOptions[0].text).width + 28 <= el.clientWidth;
        }""", select.element_handle())
        assert fits, f"the {value} option is cut"
    select.select_option(ModelKind.EMBEDDING)
    label = dict(ModelKind.choices)[ModelKind.EMBEDDING]
    expect(page.locator(".kind-hint")).to_have_text(label)  # the full description, wrapped below
    assert label in (select.get_attribute("aria-describedby") and page.locator(
        f"#{select.get_attribute('aria-describedby').split()[0]}").inner_text())
