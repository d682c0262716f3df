"""Celery tasks that train and run models and write results (and agreement reports) back.

The only module of `ml` that touches Django: the pure core (models, losses, training loops) stays
importable without it. Each task is a thin entry point over a public platform service
(modelling.training, modelling.scoring, agreement.services); the platform queues them by name
(core.queue), so nothing in `platform/` imports this module. Workers import it through
CELERY_IMPORTS; `ml.*` tasks run on the `gpu` queue (`celery -A pleura worker -Q gpu -c 1`; without a
GPU the same worker trains on the CPU), `agreement.*` tasks on `analysis`.
"""

from __future__ import annotations

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
from modelling.scoring import videos_predict
from modelling.services import PREDICT_VIDEOS_TASK, TRAIN_MODEL_TASK
from modelling.training import training_job_run

GPU_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["gpu"]
ANALYSIS_TIME_LIMIT = settings.CELERY_QUEUE_TIME_LIMITS["analysis"]


@shared_task(bind=True, name=TRAIN_MODEL_TASK, acks_late=True, reject_on_worker_lost=True,
             time_limit=GPU_TIME_LIMIT)
def train_model(self: Any, job_id: int) -> str:
    """Train a job's model, record and activate the version, queue scoring; returns the outcome."""
    return training_job_run(job_id=job_id, task_id=self.request.id or "", worker_host=socket.gethostname())


@shared_task(name=PREDICT_VIDEOS_TASK, acks_late=True, reject_on_worker_lost=True, time_limit=GPU_TIME_LIMIT)
def predict_videos(video_ids: list[int] | None = None, patient_id: int | None = None,
                   kinds: list[str] | None = None) -> int:
    """Score videos with the active models; returns the rows written."""
    return videos_predict(video_ids=video_ids, patient_id=patient_id, kinds=kinds)


@shared_task(name=COMPUTE_REPORT_TASK, acks_late=True, time_limit=ANALYSIS_TIME_LIMIT)
def compute_agreement_report(report_id: int) -> str:
    """Agreement statistics of one report's scope; returns the report's status."""
    return agreement_report_compute(report_id=report_id).status


@shared_task(name=REFRESH_STALE_REPORTS_TASK, time_limit=ANALYSIS_TIME_LIMIT)
def refresh_stale_agreement_reports() -> int:
    """Recompute every stale report; returns how many."""
    return agreement_reports_refresh_stale()
