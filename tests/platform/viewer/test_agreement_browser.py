"""Chromium: a validator requests an agreement report over frame scores with a model version as an
extra rater, watches it become ready (a real Celery worker computes it), and reads the kappa matrix
under each weighting, the undefined pair with its reason, and the export links."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from agreement.models import AgreementReport, ReportStatus
from annotations.services import contours_import, frame_scores_import
from modelling.models import FramePrediction, ModelKind, ModelVersion
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_review_browser import make_video

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_validator_creates_a_report_and_reads_the_kappa_matrix(browse, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from studies.models import Exam
    from studies.services import patient_upsert, site_ensure

    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Agreement Site"), code="AG-1"))
    first, second = make_video(exam, "ag-1", "R1", frames=6), make_video(exam, "ag-2", "L1", frames=4)
    frames = list(first.frames.order_by("index").values_list("id", flat=True))
    others = list(second.frames.order_by("index").values_list("id", flat=True))
    raters = [make_user(f"ag-ann-{n}", "annotator", 1) for n in range(4)]
    frame_scores_import(annotator=raters[0], scores=dict(zip(frames, [0, 1, 2, 3, 1, 2], strict=True)))
    frame_scores_import(annotator=raters[1], scores=dict(zip(frames, [0, 1, 2, 2, 1, 3], strict=True)))
    frame_scores_import(annotator=raters[2], scores=dict(zip(frames[:3], [1, 1, 2], strict=True)))
    frame_scores_import(annotator=raters[3], scores=dict(zip(others, [0, 1, 2, 3], strict=True)))  # shares nothing with ann-2
    model = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    for frame, score in zip(frames, [0, 1, 2, 3, 2, 2], strict=True):
        FramePrediction.objects.create(frame_id=frame, model_version=model, score=score,
                                       probabilities=[0.25] * 4)
    square = [[10, 10], [40, 10], [40, 30], [10, 30]]
    contours_import(annotator=raters[0], contours=[(frames[0], 2, square)])
    contours_import(annotator=raters[1], contours=[(frames[0], 2, [[15, 10], [40, 10], [40, 30], [15, 30]])])
    make_user("ag-val", "validator", 2)

    session = browse()
    session.login("ag-val")
    page = session.page
    session.goto("/agreement/")
    form = page.locator("form.report-form")
    form.get_by_label("Compare").select_option("frame")
    form.get_by_label("Model as an extra rater").select_option(str(model.pk))
    form.get_by_role("button", name="Create report").click()
    report_view = page.locator("article.report")
    expect(report_view.locator(".status-ready")).to_be_visible(timeout=120_000)
    report = AgreementReport.objects.get()
    assert report.status == ReportStatus.READY and report.scope["model_version"] == model.pk
    assert report.created_by.username == "ag-val"

    matrix = page.get_by_role("img", name="Cohen's kappa matrix (unweighted)")
    expect(matrix).to_be_visible()
    expect(matrix.locator("text.tick", has_text=f"model v{model.pk}").first).to_be_visible()
    expect(page.locator("ul.reasons li", has_text=re.compile(r"ag-ann-2 × ag-ann-3: undefined \(.+\)"))).to_be_visible()
    expect(matrix.locator("text", has_text="undefined").first).to_be_visible()
    for name in ("Agreement of each annotator with the others", "Bias of each annotator against the consensus"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    expect(page.get_by_role("img", name="Confusion of ag-ann-0 against the consensus")).to_be_visible()
    expect(page.locator("dl.stats")).to_contain_text("Krippendorff's α (ordinal)")
    assert "NaN" not in report_view.inner_text()
    session.shot("agreement")

    page.get_by_label("Weighting").select_option("quadratic")
    expect(page.get_by_role("img", name="Cohen's kappa matrix (quadratic)")).to_be_visible()
    csv = report_view.get_by_role("link", name="Export CSV")
    assert csv.get_attribute("href") == f"/api/agreement-reports/{report.pk}/export/?format=csv"
    response = page.request.get(csv.get_attribute("href"))
    assert response.ok and b"cohen_kappa" in response.body()

    # the list keeps it, and reloading with ?report= opens it again
    page.reload()
    page.wait_for_selector("#app[aria-busy='false']")
    expect(page.locator("button.report-item[aria-current]")).to_contain_text(f"#{report.pk}")
    expect(page.get_by_role("img", name="Cohen's kappa matrix (unweighted)")).to_be_visible()

    # a contour report: Dice and IoU per class, undefined where neither drew the class
    form.get_by_label("Compare").select_option("contour")
    expect(form.get_by_label("Model as an extra rater")).to_be_disabled()
    form.get_by_role("button", name="Create report").click()
    expect(page.locator("button.report-item")).to_have_count(2)
    contour = AgreementReport.objects.exclude(pk=report.pk).get()
    expect(page.locator(f"article.report[data-report='{contour.pk}'] .status-ready")).to_be_visible(timeout=120_000)
    contour.refresh_from_db()
    assert contour.statistics["pairs"], contour.statistics
    expect(page.get_by_role("img", name="Mean Dice per class")).to_be_visible()
    table = page.locator("article.report table")
    expect(table.locator("tr", has_text="ag-ann-0 × ag-ann-1")).to_contain_text("undefined (class drawn by neither)")
    dice = contour.statistics["pairs"][0]["dice"]["2"]
    assert 0.8 < dice < 1  # one box inside the other, a little narrower
    expect(table).to_contain_text(f"{dice:.3f}")
