"""Celery tasks that train and run models and write results (and agreement reports) back.

The only module of `ml` that touches Django: the pure core (models, losses, training loops) stays
importable without it. Each task is a thin entry point over a public platform service
(modelling.training, modelling.scoring, agreement.services); the platform queues them by name
(core.queue), so nothing in `platform/` imports this module. Workers import it through
CELERY_IMPORTS; `ml.*` tasks (training) run on the `gpu` queue (`celery -A pleura worker -Q gpu -c 1`; without
a GPU the same worker trains on the CPU), `scoring.*` on `scoring` (its own worker, so scoring never waits
behind training), `agreement.*` tasks on `analysis`.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task
from django.conf import settings

from agreement.services import (
    COMPUTE_REPORT_TASK,
    REFRESH_STALE_REPORTS_TASK,
    agreement_report_compute,
    agreement_reports_refresh_stale,
)
from modelling.scoring import scoring_chunk_run, scoring_job_run
from modelling.search import SEARCH_TRIALS_TASK, search_job_run
from modelling.services import SCORE_CHUNK_TASK, SCORE_VIDEOS_TASK, TRAIN_MODEL_TASK
from modelling.training import training_job_run

GPU_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["gpu"]
SCORING_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["scoring"]
ANALYSIS_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["analysis"]


@shared_task(bind=True, name=TRAIN_MODEL_TASK, acks_late=True, reject_on_worker_lost=True,
             time_limit=GPU_TIME_LIMIT)
def train_model(self: Any, job_id: int) -> str:
    """Train a job's model, record and activate the version, queue scoring; returns the outcome."""
    return training_job_run(job_id=job_id, task_id=self.request.id or "", worker_host=socket.gethostname())


@shared_task(bind=True, name=SEARCH_TRIALS_TASK, acks_late=True, reject_on_worker_lost=True,
             time_limit=GPU_TIME_LIMIT)
def search_trials(self: Any, job_id: int, worker: int) -> str:
    """One worker's trials of a search job's shared Optuna study; returns the outcome."""
    return search_job_run(job_id=job_id, worker=worker, task_id=self.request.id or "",
                          worker_host=f"{socket.gethostname()}:{os.getpid()}")


@shared_task(bind=True, name=SCORE_VIDEOS_TASK, acks_late=True, reject_on_worker_lost=True,
             time_limit=SCORING_TIME_LIMIT)
def score_videos(self: Any, job_id: int) -> str:
    """Run a scoring job (videos and active models named by its row); returns the outcome."""
    return scoring_job_run(job_id=job_id, task_id=self.request.id or "", worker_host=socket.gethostname())


@shared_task(name=SCORE_CHUNK_TASK, acks_late=True, reject_on_worker_lost=True, time_limit=SCORING_TIME_LIMIT)
def score_chunk(job_id: int, chunk: int, version_id: int, video_ids: list[int]) -> str:
    """One chunk of a scoring job (any scoring worker; re-delivered when its worker is lost); returns the outcome."""
    return scoring_chunk_run(job_id=job_id, chunk=chunk, version_id=version_id, video_ids=video_ids,
                             worker_host=f"{socket.gethostname()}:{os.getpid()}")


@shared_task(name=COMPUTE_REPORT_TASK, acks_late=True, time_limit=ANALYSIS_TIME_LIMIT)
def compute_agreement_report(report_id: int) -> str:
    """Agreement statistics of one report's scope; returns the report's status."""
    return agreement_report_compute(report_id=report_id).status


@shared_task(name=REFRESH_STALE_REPORTS_TASK, time_limit=ANALYSIS_TIME_LIMIT)
def refresh_stale_agreement_reports() -> int:
    """Recompute every stale report; returns how many."""
    return agreement_reports_refresh_stale()
