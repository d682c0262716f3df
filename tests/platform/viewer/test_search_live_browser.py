"""Chromium: the dashboard's search card is live (issue 17). A running search job the card shows is followed
(its job panel opens), and when a worker records a finished trial server-side the card's optimisation history
and parallel coordinates gain it without a page reload, the job picked in the card's selector staying shown
(strict CSP: nothing inline)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from modelling.models import JobStatus, JobType, ModelKind, TrainingJob
from modelling.search import search_progress_merge
from tests.platform.viewer.conftest import as_worker, make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PARAMETERS = {"objective": "kappa", "trials": 4, "workers": 1, "folds": 3, "seed": 0, "space": None,
              "max_time_s": None, "base": {}}


def trial(number: int, value: float, l2: float, scale: float) -> dict[str, Any]:
    return {"number": number, "state": "COMPLETE", "value": value, "params": {"l2": l2, "sord_scale": scale},
            "seconds": 2.0}


def search_job(status: str, progress: dict[str, Any]) -> TrainingJob:
    return TrainingJob.objects.create(job_type=JobType.SEARCH, kind=ModelKind.EMBEDDING, status=status,
                                      parameters=PARAMETERS, data_selection={}, progress=progress)



def trial_segments(chart) -> int:  # type: ignore[no-untyped-def]
    """Points of the history chart's "trial" line (its first series path: M, then one L per further point)."""
    return chart.locator("path.series").first.get_attribute("d").count("L") + 1


def test_a_running_search_redraws_as_trials_finish(browse) -> None:  # type: ignore[no-untyped-def]
    running = search_job(JobStatus.RUNNING, {"phase": "search", "step": 2, "steps": 4, "best_value": 0.55,
                                             "trials": [trial(0, 0.41, 1.0, 2.0), trial(1, 0.55, 0.05, 1.0)]})
    newer = search_job(JobStatus.SUCCEEDED, {"step": 1, "steps": 1, "best_value": 0.3, "summary": {
        "history": [trial(0, 0.3, 1.0, 1.0)], "importances": {"l2": 1.0}, "importance_method": "fanova",
        "best": {"number": 0, "value": 0.3, "params": {"l2": 1.0, "sord_scale": 1.0}}}})
    make_user("live-search-admin", "admin", 4)
    session = browse()
    session.login("live-search-admin")
    session.goto("/dashboard/")
    page = session.page
    card = page.locator("section.searches")
    expect(card).to_contain_text(f"Search job {newer.pk} (succeeded)")
    expect(page.locator(f".job-panel[data-job='{running.pk}']")).to_have_count(0)  # nothing followed yet

    chooser = card.get_by_role("combobox", name="Search job shown")
    chooser.select_option(str(running.pk))
    expect(card).to_contain_text(f"Search job {running.pk} (running): 2/4 trials, best kappa 0.550")
    expect(card.locator(".search-live")).to_contain_text("importances and the best configuration to train are final")
    expect(card).to_contain_text("Computed when the search ends.")
    panel = page.locator(f".job-panel[data-job='{running.pk}']")
    expect(panel.locator("[data-field='channel']")).to_have_text("(live)")  # followed over the websocket
    history = card.get_by_role("img", name="Optimisation history (kappa)")
    parallel = card.get_by_role("img", name="Parallel coordinates of the trials")
    assert trial_segments(history) == 2
    expect(parallel.locator("polyline.trial")).to_have_count(2)
    page.evaluate("() => { window.sameDocument = true; }")

    # a worker finishes trial 2: the service the trial callback calls merges it and publishes the job's state
    as_worker(lambda: search_progress_merge(running.pk, {"step": 3, "best_value": 0.62, "best_trial": 2},
                                            trials=[trial(2, 0.62, 0.02, 0.7)]))
    expect(card).to_contain_text(f"Search job {running.pk} (running): 3/4 trials, best kappa 0.620", timeout=15_000)
    expect(parallel.locator("polyline.trial")).to_have_count(3)
    expect(card).to_contain_text("Best so far: trial 2, l2=0.02, sord_scale=0.7")
    assert trial_segments(history) == 3
    # the job panel counts trials too (no empty loss charts, a bar that moves)
    expect(panel.locator("p[aria-live]")).to_contain_text("search embedding: 3 of 4 trials finished, "
                                                          "best so far 0.620 (trial 2)")
    assert panel.locator("progress").evaluate("bar => bar.value") == 0.75
    expect(panel.locator(".chart-row")).to_be_hidden()
    assert page.evaluate("() => window.sameDocument === true")  # no reload
    expect(panel.locator("[data-field='channel']")).to_have_text("(live)")  # pushed, not polled
    expect(chooser).to_have_value(str(running.pk))  # the user's choice stays
    expect(chooser.locator("option", has_text=f"search {running.pk} (running)")).to_have_count(1)
    session.shot("dashboard-search-live")
    assert not session.unexpected_errors()
