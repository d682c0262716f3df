"""Job progress to browsers: a message on the channel layer group of the job (Redis across
processes); the websocket consumer also polls the database when the layer cannot cross processes."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync

from .models import TrainingJob
from .selectors import job_queue_positions

logger = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    return f"job-{job_id}"


def job_state(job: TrainingJob) -> dict:
    """What pages show of a job: the row's own fields (the one state), and where it waits when queued."""
    return {"id": job.pk, "job_type": job.job_type, "kind": job.kind, "status": job.status,
            "queue": job_queue_positions([job]).get(job.pk), "progress": job.progress, "error": job.error,
            "model_version": job.model_version_id, "log_tail": job.log_tail[-2000:]}


def publish_job(job: TrainingJob) -> None:
    """Best effort: a missing or unreachable channel layer never fails the job itself."""
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(job_group(job.pk), {"type": "job.update", "job": job_state(job)})
    except Exception:
        logger.warning("could not publish progress of job %s", job.pk, exc_info=True)
