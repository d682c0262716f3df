"""Chromium: when the job websocket cannot be opened, the dashboard follows the job by polling
GET /api/jobs/<id>/ until it ends, and still draws its progress and curves (no worker needed: the
test moves the job's state in the database)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from modelling.models import JobStatus, ModelKind, TrainingJob
from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser

# A WebSocket that never connects: the browser reports a failed socket as a close event.
BROKEN_WEBSOCKET = """
window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 10); }
  close() {}
};
"""


def test_progress_falls_back_to_polling(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("fb-admin", "admin", 4)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING, progress={
        "epoch": 1, "epochs": 4, "step": 2, "steps": 4, "loss": 1.2, "history": []})
    session = browse()
    session.page.add_init_script(BROKEN_WEBSOCKET)
    session.login("fb-admin")
    session.goto("/dashboard/")
    page = session.page
    page.get_by_role("button", name=f"Follow job {job.pk}").click()
    panel = page.locator(f".job-panel[data-job='{job.pk}']")
    expect(panel.locator("[data-field=channel]")).to_have_text("(polling)")
    bar = panel.get_by_label(f"Progress of job {job.pk}")
    expect(bar).to_have_attribute("value", "0.125")  # (0 epochs + 2/4 steps) / 4 epochs

    history = [{"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.4}, {"epoch": 2, "train_loss": 0.9, "train_accuracy": 0.6}]
    TrainingJob.objects.filter(pk=job.pk).update(progress={"epoch": 3, "epochs": 4, "step": 0, "steps": 4, "loss": 0.8,
                                                           "history": history})
    expect(bar).to_have_attribute("value", "0.5")
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    expect(panel.locator(".status-succeeded")).to_be_visible()
    expect(bar).to_have_attribute("value", "1")
    expect(panel.get_by_role("img", name=f"Metric curves of job {job.pk}").locator("path.series")).to_have_count(1)
    expect(page.locator(f"tr[data-job='{job.pk}']")).to_contain_text("succeeded")
    expect(page.get_by_role("button", name=f"Cancel job {job.pk}")).to_have_count(0)
