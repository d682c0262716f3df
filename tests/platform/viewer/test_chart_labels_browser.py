"""Chromium: chart labels of two annotators whose long names start alike read differently (they were cut
to the same first letters), and each shortened label carries the full name as its tooltip."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.services import frame_scores_import
from tests.platform.conftest import _video
from tests.platform.viewer.conftest import make_user, open_page

pytestmark = pytest.mark.browser

ANNA, ALEX = "radiologist_anna_mueller", "radiologist_alex_mueller"


def tick_texts(chart) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """(visible text, tooltip) of the chart's label texts."""
    return chart.evaluate("""(svg) => [...svg.querySelectorAll('text.tick')].map(
        (t) => [t.childNodes[0].textContent, t.querySelector('title')?.textContent ?? null])""")


def test_annotator_names_starting_alike_stay_distinct(browse) -> None:  # type: ignore[no-untyped-def]
    from studies.models import Exam
    from studies.services import patient_upsert, site_ensure

    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Chart site"), code="C1"))
    frames = list(_video(exam, 7).frames.order_by("index").values_list("pk", flat=True))
    for name, score in ((ANNA, 1), (ALEX, 2)):
        frame_scores_import(annotator=make_user(name, "annotator"), scores={frames[0]: score})
    make_user("chart-admin", "admin", 4)
    session = browse()
    session.login("chart-admin")
    open_page(session, "/dashboard/")
    chart = session.page.get_by_role("img", name="Labels per annotator (all kinds)")
    expect(chart).to_be_visible()
    ticks = dict(tick_texts(chart))
    shown = [text for text, title in ticks.items() if title in (ANNA, ALEX)] or [t for t in ticks if t in (ANNA, ALEX)]
    assert len(shown) == 2 and len(set(shown)) == 2, ticks
    assert {ticks[text] or text for text in shown} == {ANNA, ALEX}

    # the matrices (agreement's kappa and confusion charts) shorten their row and column names the same way
    labels = session.page.evaluate("""async ([a, b]) => {
        const { matrixChart } = await import('/static/viewer/shared/charts.js');
        const chart = matrixChart([a, b], [a, b], [[1, 0.5], [0.5, 1]], { cell: 40 });
        return [...chart.querySelectorAll('text.tick')].map((t) => [t.childNodes[0].textContent, t.querySelector('title')?.textContent]);
    }""", [ANNA, ALEX])
    columns, rows = labels[:2], labels[2:]  # column names first, then row names
    for names in (columns, rows):
        assert [title for _, title in names] == [ANNA, ALEX] and names[0][0] != names[1][0], labels
        assert all(len(text) < len(title) for text, title in names)
