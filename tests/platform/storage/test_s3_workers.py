"""Object storage end to end on moto's S3 server: ingest into the bucket, workers in other processes with
their own empty caches (and no media folder) train and score, results in PostgreSQL, frame URLs resolve;
two gpu workers train at once; a scoring job's chunks are shared and a killed worker's chunk re-delivered."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db.models import Count

from accounts.models import User
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import FramePrediction, JobStatus, ModelKind, TrainingJob, VideoPrediction
from modelling.selection import DataSelection
from modelling.selectors import labelled_frames
from modelling.services import model_version_activate, training_job_submit
from studies.frame_urls import frame_image_url
from studies.models import Frame, Video
from tests.platform.modelling.conftest import wait_for
from tests.platform.modelling.test_job_submission import make_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TINY = {"model": "reg_stn", "size": [64, 64], "batch_size": 16, "lr": 3e-3, "seed": 0}


def selection() -> dict:
    return {"annotators": [User.objects.get(username=TRUTH_USERNAME).pk], "validation_fraction": 0.0}


def cached_files(cache: Path) -> int:
    return sum(1 for p in (cache / "objects").glob("*/*") if p.suffix not in (".json", ".part"))


def test_ingest_train_and_score_through_the_bucket(s3_workers, s3_storage, media_root: Path, client, settings):
    s3, bucket = s3_storage
    phantoms_generate(videos=6, frames=8, size=64, annotators=0, seed=3)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sum(k.endswith(".png") for k in keys) == Frame.objects.count() and not any(media_root.iterdir())
    worker = s3_workers("gpu")
    assert not worker.cache.exists()  # starts empty
    job = training_job_submit(kind=ModelKind.FRAME_SCORER, parameters={**TINY, "epochs": 1},
                              data_selection=selection())
    rows = labelled_frames(DataSelection.from_dict(selection())).rows
    assert rows and {r["image"] for r in rows} <= set(keys)  # storage names: validating fetched no frame here
    assert not Path(settings.PLEURA_MEDIA_CACHE_DIR).exists()
    wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
             timeout=300, what="training on the S3 worker", worker=worker)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    version = job.model_version
    assert default_storage.exists(version.weights.name)  # the weights went to the bucket
    wait_for(lambda: FramePrediction.objects.filter(model_version=version).count() == Frame.objects.count(),
             timeout=180, what="scoring on the S3 worker", worker=worker)
    assert VideoPrediction.objects.filter(model_version=version).count() == Video.objects.count()
    assert cached_files(worker.cache) >= Frame.objects.count()  # frames came through its own cache
    frame = Frame.objects.order_by("id").first()
    url = frame_image_url(frame.image.name)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with default_storage.open(frame.image.name, "rb") as handle:
        assert response.content == handle.read()


def test_two_gpu_workers_train_two_jobs_at_once(s3_workers):
    phantoms_generate(videos=6, frames=8, size=64, annotators=0, seed=4)
    workers = [s3_workers(f"gpu{i}", queues="gpu") for i in (1, 2)]
    jobs = [training_job_submit(kind=ModelKind.FRAME_SCORER, parameters={**TINY, "epochs": 3, "activate": False,
                                                                         "seed": seed}, data_selection=selection())
            for seed in (0, 1)]
    ids = [j.pk for j in jobs]
    wait_for(lambda: TrainingJob.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count() == 2, timeout=240,
             what="both jobs running at the same time", worker=workers[0], interval=0.1)
    wait_for(lambda: TrainingJob.objects.filter(pk__in=ids).exclude(
        status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).count() == 2, timeout=300, what="both jobs", worker=workers[1])
    assert set(TrainingJob.objects.filter(pk__in=ids).values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert all(cached_files(w.cache) > 0 for w in workers)  # each read the frames through its own cache


def test_a_killed_workers_chunk_is_redelivered_and_nothing_is_written_twice(s3_workers, tmp_path: Path):
    phantoms_generate(videos=12, frames=8, size=64, annotators=0, seed=5)
    extra = {"PLEURA_SCORING_CHUNK_VIDEOS": "2", "CELERY_VISIBILITY_TIMEOUT": "8"}
    doomed = s3_workers("doomed", queues="scoring", **extra)
    version = make_version(tmp_path)
    model_version_activate(version=version)  # queues one scoring job of every video: 6 chunks of 2
    job = TrainingJob.objects.get(job_type="scoring")
    wait_for(lambda: "scoring chunk" in doomed.output(), timeout=180, what="a first chunk on the doomed worker",
             worker=doomed, interval=0.05)
    for child in doomed.children():
        os.kill(child, signal.SIGSTOP)  # frozen mid-chunk
    running = [line for line in doomed.output().splitlines() if "scoring chunk" in line][-1]
    chunk = int(running.split("chunk ")[1].split()[0])
    assert chunk not in (TrainingJob.objects.get(pk=job.pk).progress or {}).get("chunks_done", [])
    os.killpg(doomed.process.pid, signal.SIGKILL)  # the whole worker is lost, its chunk unacknowledged
    doomed.process.wait(timeout=10)
    doomed.process = None
    doomed.handle.close()
    started = time.monotonic()
    rescuers = [s3_workers(f"rescuer{i}", queues="scoring", **extra) for i in (1, 2)]
    wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
             timeout=240, what="the scoring job after re-delivery", worker=rescuers[0])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert chunk in job.progress["chunks_done"] and job.progress["step"] == job.progress["steps"] == Video.objects.count()
    assert len(job.progress["workers"]) >= 2, job.progress  # the rescuers shared the chunks
    assert FramePrediction.objects.filter(model_version=version).count() == Frame.objects.count()
    assert not FramePrediction.objects.filter(model_version=version).values("frame").annotate(
        n=Count("id")).filter(n__gt=1).exists()
    assert VideoPrediction.objects.filter(model_version=version).count() == Video.objects.count()
    print(f"re-delivered and finished {time.monotonic() - started:.1f} s after the kill")
