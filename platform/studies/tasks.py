"""Celery tasks of the studies app: thin wrappers over services, on the `ingest` queue."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task
from django.conf import settings

from .models import Patient
from .services import video_ingest


@shared_task(name="studies.ingest_file", time_limit=settings.CELERY_QUEUE_TIME_LIMITS["ingest"])
def ingest_file(path: str, *, patient_id: int, original_name: str = "", lung_zone: str = "",
                probe: str = "convex") -> int:
    """Ingest a file the worker can read (shared folder); returns the video id."""
    source = Path(path)
    result = video_ingest(source=source, original_name=original_name or source.name,
                          patient=Patient.objects.get(pk=patient_id), lung_zone=lung_zone, probe=probe)
    return result.video.pk
