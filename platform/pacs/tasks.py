"""Celery tasks of the PACS app (queue `ingest`, by the `pacs.*` route): thin wrappers over services."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task
from django.conf import settings

from .receiver import INGEST_SPOOLED_TASK
from .services import endpoints_poll, spooled_ingest

POLL_ENDPOINTS_TASK = "pacs.poll_endpoints"


@shared_task(name=INGEST_SPOOLED_TASK, time_limit=settings.CELERY_QUEUE_TIME_LIMITS["ingest"])
def ingest_spooled(path: str, *, endpoint_id: int) -> int | None:
    """Import a file the C-STORE receiver spooled (then deleted); returns the video id."""
    return spooled_ingest(Path(path), endpoint_id=endpoint_id)


@shared_task(name=POLL_ENDPOINTS_TASK, time_limit=settings.CELERY_QUEUE_TIME_LIMITS["ingest"])
def poll_endpoints() -> dict[str, int]:
    """The periodic import (CELERY_BEAT_SCHEDULE): new videos per endpoint with auto_import on."""
    return {name: len(summary.imported) for name, summary in endpoints_poll().items()}
