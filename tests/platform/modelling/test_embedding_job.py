"""The embedding video scorer through the platform, in-process: submission checks, training with
cached embeddings, patient-level CV and calibration recorded on the version, scoring with findings and
per-frame probabilities, and the quality clinicians see next to its scores."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import FramePrediction, JobStatus, JobType, ModelKind, TrainingJob, VideoPrediction
from modelling.scoring import embedding_cache, videos_predict
from modelling.selectors import model_version_quality
from modelling.services import JobSubmissionError, training_job_submit
from modelling.training import training_job_run
from studies.models import Video

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]

#: small and fast: 64 px embeddings of every 4th frame
PARAMETERS = {"size": 64, "frame_step": 4}


def truth_selection() -> dict:
    return {"annotators": [User.objects.get(username=TRUTH_USERNAME).pk], "validation_fraction": 0.0}


def test_an_embedding_job_needs_three_patients(monkeypatch):
    phantoms_generate(videos=12, frames=4, size=64, annotators=0, seed=1)  # two patients
    with pytest.raises(JobSubmissionError, match="at least 3"):
        training_job_submit(kind=ModelKind.EMBEDDING, parameters=PARAMETERS, data_selection=truth_selection(),
                            enqueue=lambda job_id: None)


def test_embedding_job_trains_cross_validates_and_scores(monkeypatch, django_capture_on_commit_callbacks):
    phantoms_generate(videos=36, frames=8, size=64, annotators=0, seed=4)  # six patients
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    job = training_job_submit(kind=ModelKind.EMBEDDING, parameters=PARAMETERS, data_selection=truth_selection(),
                              created_by=admin, enqueue=lambda job_id: None)

    assert training_job_run(job_id=job.pk, task_id="task", worker_host="here") == "succeeded"
    job = TrainingJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED
    version = job.model_version
    assert version is not None and version.is_active and version.kind == ModelKind.EMBEDDING
    scoring = TrainingJob.objects.get(job_type=JobType.SCORING)  # activation queued scoring, shown as a job
    assert scoring.model_version == version and scoring.parameters["kinds"] == [ModelKind.EMBEDDING]
    assert f"scoring every video as job {scoring.pk}" in job.log_tail
    assert version.metrics["cv"]["folds"] >= 2 and "f1_weighted_mean" in version.metrics["cv"]
    assert version.metrics["temperature"] > 0 and version.data_snapshot["validation_patients"]
    assert version.data_snapshot["embeddings"] == "efficientnet_lite0-imagenet-64"
    assert "patient-level CV" in job.log_tail
    cached = list((embedding_cache().folder / "efficientnet_lite0-imagenet-64").glob("*.npz"))
    assert len(cached) == Video.objects.count()  # every video embedded once, reused by CV and training

    written = videos_predict(kinds=[ModelKind.EMBEDDING])
    assert written > 0
    videos = VideoPrediction.objects.filter(model_version=version)
    assert videos.count() == Video.objects.count()
    first = videos.first()
    assert first is not None and abs(sum(first.probabilities) - 1) < 1e-4
    assert set(first.findings) == {"a_lines", "b_lines"}
    frames = FramePrediction.objects.filter(model_version=version)
    assert frames.count() == 2 * Video.objects.count()  # frames 0 and 4 of each 8-frame video
    assert set(frames.values_list("frame__index", flat=True)) == {0, 4}

    quality = model_version_quality(version)
    assert quality["cv_folds"] == version.metrics["cv"]["folds"] and quality["validation_patients"] >= 1
    assert quality["training_videos"] == Video.objects.count()


def test_quality_warns_about_unchecked_models():
    from modelling.models import ModelVersion

    version = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", metrics={},
                                          data_snapshot={"validation_patients": []})
    warnings = model_version_quality(version)["warnings"]
    assert any("without validation patients" in w for w in warnings)
    assert any("unknown" in w for w in warnings)
    version.metrics = {"cv": {"folds": 5, "quadratic_kappa_mean": 0.2}}
    version.data_snapshot = {"validation_patients": ["1"]}
    assert model_version_quality(version)["warnings"] == [
        "cross-validated agreement with the experts is low (quadratic kappa 0.20): treat its scores as a rough guide"]
