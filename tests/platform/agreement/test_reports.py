"""Agreement reports: computed from the platform's labels, served by role, exported, kept fresh."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from accounts.models import Role
from accounts.services import user_ensure
from agreement.services import agreement_report_compute, agreement_report_request
from annotations.models import VideoScore
from annotations.services import frame_scores_write, video_score_import
from exchange.covid_blues import EXPERT_USERNAME, covid_blues_import
from modelling.models import FramePrediction, ModelKind, ModelVersion
from tests.platform.exchange.test_covid_blues_import import mini_dataset

pytestmark = pytest.mark.django_db


def test_report_over_frame_scores_with_a_model_as_rater(world):
    version = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn")
    for frame in world.frames(world.v1):
        FramePrediction.objects.create(frame=frame, model_version=version, probabilities=[1, 0, 0, 0], score=0)
    report = agreement_report_request(scope={"kind": "frame", "video": world.v1.pk, "model_version": version.pk})
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "ready", report.error
    names = [r["name"] for r in report.raters]
    assert names[-1] == f"model v{version.pk}" and {"ann-a", "ann-b", "doc"} <= set(names)
    json.dumps(report.statistics, allow_nan=False)  # strict JSON: undefined values are null with a reason
    assert report.statistics["n_items"] == 3


def test_bad_scopes_are_refused():
    with pytest.raises(ValueError, match="kind must be"):
        agreement_report_request(scope={"kind": "pixels"})
    with pytest.raises(ValueError, match="unknown scope field"):
        agreement_report_request(scope={"colour": "red"})


def test_api_by_role_and_exports(world):
    assert world.client(world.ann_a).get("/api/agreement-reports/").status_code == 403
    client = world.client(world.validator)
    created = client.post("/api/agreement-reports/", {"scope": {"kind": "frame"}}, format="json")
    assert created.status_code == 202 and created.json()["status"] == "queued"
    agreement_report_compute(report_id=created.json()["id"])
    detail = client.get(f"/api/agreement-reports/{created.json()['id']}/").json()
    assert detail["status"] == "ready"
    as_csv = client.get(f"/api/agreement-reports/{detail['id']}/export/?format=csv")
    assert as_csv.status_code == 200 and list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    as_json = client.get(f"/api/agreement-reports/{detail['id']}/export/")
    assert json.loads(as_json.content)["statistics"]["n_items"] == detail["statistics"]["n_items"]
    assert client.post("/api/agreement-reports/", {"scope": {"kind": "x"}}, format="json").status_code == 400


def test_label_changes_mark_reports_stale_and_queue_one_refresh(world, django_capture_on_commit_callbacks,
                                                                 monkeypatch):
    from django.core.cache import cache

    queued: list[dict] = []
    monkeypatch.setattr("agreement.services.enqueue_task", lambda name, *args, **kw: queued.append(kw))
    cache.clear()
    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "frame"}).pk)
    frames = world.frames(world.v1)
    with django_capture_on_commit_callbacks(execute=True):
        for version, score in enumerate((1, 2, 3)):
            frame_scores_write(user=world.ann_a, video=world.v1, items=[{"frame": frames[2].pk, "score": score,
                                                                         "version": version}])
    report.refresh_from_db()
    assert report.stale
    assert len(queued) == 1 and queued[0]["countdown"] > 0  # debounced: three saves, one delayed refresh


def test_expert_against_a_perturbed_copy_on_dev_data(dev_data, tmp_path):
    stems = [f"patient_{p}_{z}" for p in (10, 11) for z in ("L1", "L2", "L3", "R1", "R2", "R3")]
    present = [s for s in stems if (dev_data / "lus_videos" / f"{s}.mp4").exists()]
    covid_blues_import(root=mini_dataset(dev_data, tmp_path / "blues", present))
    expert = VideoScore.objects.filter(annotator__username=EXPERT_USERNAME).order_by("video_id")
    truth = np.array([s.score for s in expert])
    perturbed = truth.copy()
    perturbed[::3] = np.clip(perturbed[::3] + 1, 0, 3)  # every third video one level higher
    copy = user_ensure(username="perturbed", role=Role.CLINICIAN, validation_level=3)
    for label, score in zip(expert, perturbed, strict=True):
        video_score_import(annotator=copy, video_id=label.video_id, score=int(score))

    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "video"}).pk)

    stats = report.statistics
    assert stats["n_items"] == len(truth)
    (pair,) = stats["pairs"]
    assert set(pair["raters"]) == {EXPERT_USERNAME, "perturbed"}
    for name, weights in (("unweighted", None), ("linear", "linear"), ("quadratic", "quadratic")):
        expected = cohen_kappa_score(truth, perturbed, weights=weights, labels=[0, 1, 2, 3])
        assert pair["cohen_kappa"][name]["value"] == pytest.approx(expected, abs=1e-9)
    assert pair["percent_agreement"]["value"] == pytest.approx(float(np.mean(truth == perturbed)))


def test_contour_report_gives_pairwise_dice_per_class(world):
    from annotations.services import frame_contours_write

    frame = world.frames(world.v1)[0]
    square = [[10, 10], [30, 10], [30, 30], [10, 30]]  # 20×20
    shifted = [[20, 10], [40, 10], [40, 30], [20, 30]]  # overlaps half of it
    frame_contours_write(user=world.ann_a, frame=frame, base=[], contours=[{"segmentation_class": 3, "vertices": square}])
    frame_contours_write(user=world.ann_b, frame=frame, base=[], contours=[{"segmentation_class": 3, "vertices": shifted}])

    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "contour"}).pk)

    assert report.status == "ready", report.error
    stats = report.statistics
    assert stats["raters"] == ["ann-a", "ann-b"] and stats["n_frames"] == 1
    (pair,) = stats["pairs"]
    assert pair["dice"]["3"] == pytest.approx(0.5, abs=0.06)  # rasterised half overlap
    assert pair["dice"]["union"] == pytest.approx(pair["dice"]["3"])
    assert pair["dice"]["1"] is None  # neither drew class 1: undefined, not NaN
    json.dumps(stats, allow_nan=False)


def test_contour_report_with_one_annotator_says_why(world):
    from annotations.services import frame_contours_write

    frame_contours_write(user=world.ann_a, frame=world.frames(world.v1)[0], base=[],
                         contours=[{"segmentation_class": 2, "vertices": [[1, 1], [9, 1], [9, 9]]}])
    report = agreement_report_compute(report_id=agreement_report_request(scope={"kind": "contour"}).pk)
    assert report.status == "ready" and report.statistics["pairs"] == []
    assert "fewer than two" in report.statistics["reason"]
