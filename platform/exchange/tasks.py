"""Export jobs on the `analysis` queue."""

from celery import shared_task
from django.conf import settings

from .services import RUN_EXPORT_TASK, export_job_run


@shared_task(name=RUN_EXPORT_TASK, time_limit=settings.CELERY_QUEUE_TIME_LIMITS["analysis"])
def run_export(job_id: int) -> str:
    return export_job_run(job_id=job_id).status
