"""The Celery app. Workers: `celery --workdir platform -A pleura worker -Q ingest,analysis,gpu,scoring`.

A worker on another machine needs only the database (DATABASE_URL), the broker (CELERY_BROKER_URL)
and the media storage (PLEURA_MEDIA_ROOT on a shared folder, or the bucket of an S3-compatible storage, read
through the worker's own cache: core.media_cache).
"""

import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from pleura.paths import add_platform_to_path

add_platform_to_path()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")

from celery import Celery  # noqa: E402

app = Celery("pleura")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Job durations, task log context and the optional worker metrics port (celery.signals handlers).
import pleura.worker_signals  # noqa: E402, F401
