"""Chromium: the dashboard's search card draws a finished search job's optimisation history, parameter
importances and parallel coordinates (SVG, strict CSP), and "Train best" queues an ordinary training job
with the best trial's configuration."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from ml.training import EmbeddingTrainConfig
from modelling.models import JobStatus, JobType, ModelKind, TrainingJob
from tests.platform.viewer.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def finished_search() -> TrainingJob:
    phantoms_generate(videos=36, frames=4, size=64, annotators=0, seed=4)  # six patients: training validates
    history = [{"number": n, "state": "COMPLETE" if n != 2 else "PRUNED", "value": v,
                "params": {"l2": l2, "sord_scale": s}, "intermediate": {}, "seconds": 1.0, "default": n == 0}
               for n, (v, l2, s) in enumerate([(0.41, 1.0, 2.0), (0.55, 0.05, 1.0), (None, 5.0, 3.0),
                                               (0.62, 0.02, 0.7)])]
    best = {"number": 3, "value": 0.62, "params": {"l2": 0.02, "sord_scale": 0.7},
            "config": {**EmbeddingTrainConfig().to_dict(), "l2": 0.02, "sord_scale": 0.7}, "aggregator": "head"}
    summary = {"study": "s", "objective": "kappa", "counts": {"COMPLETE": 3, "PRUNED": 1}, "history": history,
               "importances": {"l2": 0.8, "sord_scale": 0.2}, "importance_method": "fanova", "best": best}
    truth = User.objects.get(username=TRUTH_USERNAME).pk
    return TrainingJob.objects.create(
        job_type=JobType.SEARCH, kind=ModelKind.EMBEDDING, status=JobStatus.SUCCEEDED,
        parameters={"objective": "kappa", "trials": 4, "workers": 1, "folds": 3, "seed": 0, "space": None,
                    "max_time_s": None, "base": {}},
        data_selection={"annotators": [truth], "validation_fraction": 0.0},
        progress={"step": 4, "steps": 4, "best_value": 0.62, "summary": summary, "workers_done": [0]})


def test_dashboard_search_plots_and_train_best(browse) -> None:  # type: ignore[no-untyped-def]
    job = finished_search()
    make_user("search-admin", "admin", 4)
    session = browse()
    session.login("search-admin")
    session.goto("/dashboard/")
    page = session.page
    card = page.locator("section.searches")
    expect(card.get_by_role("img", name="Optimisation history (kappa)")).to_be_visible()
    expect(card.get_by_role("img", name="Parameter importances")).to_be_visible()
    parallel = card.get_by_role("img", name="Parallel coordinates of the trials")
    expect(parallel).to_be_visible()
    expect(parallel.locator("polyline.trial")).to_have_count(3)  # the complete trials; the pruned one is left out
    expect(card).to_contain_text("best kappa 0.620")
    session.shot("dashboard-search")

    card.get_by_role("button", name=f"Train the best configuration of search {job.pk}").click()
    expect(page.locator(".job-panel").first).to_be_visible()
    training = TrainingJob.objects.get(job_type=JobType.TRAINING)
    assert training.kind == ModelKind.EMBEDDING and training.parameters["l2"] == 0.02
    assert training.parameters["sord_scale"] == 0.7
    assert training.data_selection["annotators"] == job.data_selection["annotators"]  # (normalised)
    assert not session.unexpected_errors()
