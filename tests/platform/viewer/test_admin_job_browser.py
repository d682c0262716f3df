"""Chromium: the Django admin's training-job page follows the job with the dashboard's live job panel
(frontend/shared/job_progress.js, loaded from the viewer's static files): the state the websocket sends
on connecting, each progress message the worker publishes, and the end of the job; with a websocket
that cannot connect, it polls the jobs API instead."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from modelling.models import JobStatus, ModelKind, TrainingJob
from modelling.services import training_job_finish, training_job_progress
from tests.platform.viewer.conftest import PASSWORD, make_user
from tests.platform.viewer.test_dashboard_fallback_browser import BROKEN_WEBSOCKET

pytestmark = pytest.mark.browser

HISTORY = [{"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.4}, {"epoch": 2, "train_loss": 0.9, "train_accuracy": 0.6}]


def in_worker(function, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Publish as a worker does, from a thread of its own: the test thread runs Playwright's event loop,
    where async_to_sync (the channel layer's group_send) refuses to run."""

    def run() -> None:
        try:
            function(**kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)


def running_job() -> TrainingJob:
    return TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING, progress={
        "epoch": 1, "epochs": 4, "step": 2, "steps": 4, "loss": 1.2, "history": []})


def open_job_page(browse, username: str, job: TrainingJob, init_script: str = ""):  # type: ignore[no-untyped-def]
    make_user(username, "admin", 4)
    session = browse()
    if init_script:
        session.page.add_init_script(init_script)
    page = session.page
    # the admin has no favicon link: the browser's own request would 404, which is not what is tested here
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"{session.server.url}/admin/login/?next=/admin/modelling/trainingjob/{job.pk}/change/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/change/" in url)
    panel = page.locator(f"#live-progress .job-panel[data-job='{job.pk}']")
    return session, panel, panel.get_by_label(f"Progress of job {job.pk}")


def test_admin_job_page_follows_the_job_live(browse) -> None:  # type: ignore[no-untyped-def]
    job = running_job()
    session, panel, bar = open_job_page(browse, "aj-admin", job)
    expect(panel.locator("[data-field=channel]")).to_have_text("(live)")
    expect(bar).to_have_attribute("value", "0.125")  # (0 epochs + 2/4 steps) / 4 epochs
    expect(panel.locator("[data-field=status]")).to_have_text("running")

    in_worker(training_job_progress, job=job, progress={"epoch": 3, "epochs": 4, "step": 0, "steps": 4, "loss": 0.8,
                                                        "history": HISTORY}, log_line="epoch 2 done")
    expect(bar).to_have_attribute("value", "0.5")
    expect(panel.locator("pre.log")).to_contain_text("epoch 2 done")
    expect(panel.get_by_role("img", name=f"Metric curves of job {job.pk}").locator("path.series")).to_have_count(1)
    session.shot("admin-job")

    in_worker(training_job_finish, job=job, status=JobStatus.SUCCEEDED)
    expect(panel.locator(".status-succeeded")).to_be_visible()
    expect(bar).to_have_attribute("value", "1")
    expect(panel.locator("[data-field=channel]")).to_have_text("")


def test_admin_job_page_falls_back_to_polling(browse) -> None:  # type: ignore[no-untyped-def]
    job = running_job()
    _, panel, bar = open_job_page(browse, "aj-admin2", job, BROKEN_WEBSOCKET)
    expect(panel.locator("[data-field=channel]")).to_have_text("(polling)")
    expect(bar).to_have_attribute("value", "0.125")
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, progress={
        "epoch": 4, "epochs": 4, "step": 4, "steps": 4, "loss": 0.5, "history": HISTORY})
    expect(panel.locator(".status-succeeded")).to_be_visible()
    expect(bar).to_have_attribute("value", "1")
