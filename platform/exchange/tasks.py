"""Export jobs on the `analysis` queue."""

from celery import shared_task
from django.conf import settings

from .services import export_job_run


@shared_task(name="exchange.run_export", time_limit=settings.CELERY_QUEUE_TIME_LIMITS["analysis"])
def run_export(job_id: int) -> str:
    return export_job_run(job_id=job_id).status
