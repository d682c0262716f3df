"""Agreement reports of kind "finding": each finding on its own, nominal with two categories, checked
against sklearn, statsmodels and the krippendorff package."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from agreement.services import agreement_report_compute, agreement_report_request
from annotations.services import video_findings_import
from studies.models import Video

krippendorff = pytest.importorskip("krippendorff")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")

pytestmark = pytest.mark.django_db

# 8 videos: b_lines by three raters (ann-a, ann-b, doc), effusion by two, a_lines by one.
B_LINES = {"ann-a": [1, 1, 0, 0, 1, 0, 1, 1], "ann-b": [1, 0, 0, 0, 1, 1, 1, 1], "doc": [1, 1, 0, 1, 1, 0, 0, 1]}
EFFUSION = {"ann-a": [0, 0, 0, 1, 0, 0, 0, 0], "doc": [0, 0, 0, 1, 0, 1, 0, 0]}


@pytest.fixture
def labelled(world):
    videos = [world.v1, world.v2] + [
        Video.objects.create(exam=world.v1.exam, fps=25, frame_count=0, width=8, height=8, format="mp4",
                             source_file=f"x{n}.mp4", original_name=f"x{n}.mp4", sha256=f"{n:x}" * 64)
        for n in range(10, 16)]
    users = {"ann-a": world.ann_a, "ann-b": world.ann_b, "doc": world.clinician}
    for position, video in enumerate(videos):
        for name, user in users.items():
            findings = {"b_lines": bool(B_LINES[name][position])}
            if name in EFFUSION:
                findings["effusion"] = bool(EFFUSION[name][position])
            if name == "doc":
                findings["a_lines"] = True
            video_findings_import(annotator=user, video_id=video.pk, findings=findings)
    return world


def report_of(scope: dict) -> dict:
    report = agreement_report_compute(report_id=agreement_report_request(scope=scope).pk)
    assert report.status == "ready", report.error
    json.dumps(report.statistics, allow_nan=False)
    return report.statistics


def test_each_finding_has_its_own_statistics(labelled):
    statistics = report_of({"kind": "finding"})
    assert statistics["kind"] == "finding" and statistics["n_items"] == 8
    assert statistics["rater_names"] == ["ann-a", "ann-b", "doc"]
    by_code = {f["code"]: f for f in statistics["findings"]}
    assert list(by_code) == ["a_lines", "b_lines", "effusion"]  # vocabulary order
    assert by_code["b_lines"]["name"] == "B-lines" and by_code["b_lines"]["categories"] == 2

    b = by_code["b_lines"]
    ratings = np.array([B_LINES[name] for name in ("ann-a", "ann-b", "doc")]).T  # (videos, raters)
    for pair in b["pairs"]:
        i, j = (["ann-a", "ann-b", "doc"].index(n) for n in pair["raters"])
        expected = cohen_kappa_score(ratings[:, i], ratings[:, j])
        assert pair["cohen_kappa"]["unweighted"]["value"] == pytest.approx(expected)
        assert pair["percent_agreement"]["value"] == pytest.approx((ratings[:, i] == ratings[:, j]).mean())
    table, _ = inter_rater.aggregate_raters(ratings, n_cat=2)
    assert b["fleiss_kappa"]["complete"]["value"] == pytest.approx(inter_rater.fleiss_kappa(table))
    alpha = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement="nominal")
    assert b["krippendorff_alpha"]["nominal"]["value"] == pytest.approx(alpha)
    assert b["n_items"] == 8 and 0 < b["percent_agreement"]["value"] < 1
    assert b["mean_pairwise_cohen_kappa"]["unweighted"]["value"] == pytest.approx(
        np.mean([p["cohen_kappa"]["unweighted"]["value"] for p in b["pairs"]]))

    effusion = by_code["effusion"]
    assert effusion["rater_names"] == ["ann-a", "doc"] and len(effusion["pairs"]) == 1
    assert effusion["pairs"][0]["cohen_kappa"]["unweighted"]["value"] == pytest.approx(
        cohen_kappa_score(EFFUSION["ann-a"], EFFUSION["doc"]))
    single = by_code["a_lines"]  # one rater: undefined, with a reason, never NaN
    assert single["pairs"] == [] and single["fleiss_kappa"]["available"]["value"] is None
    assert single["fleiss_kappa"]["available"]["reason"]


def test_scope_narrows_findings_raters_and_videos(labelled):
    statistics = report_of({"kind": "finding", "findings": ["effusion"], "annotators": [labelled.ann_a.pk,
                                                                                        labelled.ann_b.pk]})
    assert [f["code"] for f in statistics["findings"]] == ["effusion"]
    assert statistics["findings"][0]["rater_names"] == ["ann-a"]
    one_video = report_of({"kind": "finding", "video": labelled.v1.pk, "min_level": 4})
    assert one_video["n_items"] == 1 and one_video["rater_names"] == ["doc"]
    nothing = report_of({"kind": "finding", "findings": ["white_lung"]})
    assert nothing["n_items"] == 0 and nothing["reason"]


def test_bad_finding_scopes_are_refused():
    with pytest.raises(ValueError, match="no model states findings"):
        agreement_report_request(scope={"kind": "finding", "model_version": 1})
    with pytest.raises(ValueError, match="list of finding codes"):
        agreement_report_request(scope={"kind": "finding", "findings": "b_lines"})


def test_finding_report_exports_as_csv(labelled):
    client = labelled.client(labelled.validator)
    created = client.post("/api/agreement-reports/", {"scope": {"kind": "finding"}}, format="json")
    assert created.status_code == 202
    agreement_report_compute(report_id=created.json()["id"])
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/api/agreement-reports/{created.json()['id']}/export/?format=csv").content.decode())))
    assert {r["finding"] for r in rows} == {"a_lines", "b_lines", "effusion"}
    fleiss = [r for r in rows if r["finding"] == "b_lines" and r["statistic"] == "fleiss_kappa"]
    assert {r["variant"] for r in fleiss} == {"complete", "available"}


def test_finding_changes_mark_reports_stale(labelled, django_capture_on_commit_callbacks, monkeypatch):
    from annotations.services import video_findings_write

    monkeypatch.setattr("agreement.services.enqueue_task", lambda *args, **kwargs: None)
    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "finding"}).pk)
    with django_capture_on_commit_callbacks(execute=True):
        video_findings_write(user=labelled.ann_b, video=labelled.v1, items=[
            {"finding": "effusion", "present": True}])
    report.refresh_from_db()
    assert report.stale
