"""WSGI entry point (gunicorn pleura.wsgi with platform/ on the path)."""

import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from pleura.paths import add_platform_to_path

add_platform_to_path()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from studies.frame_urls import django_media_root, django_signing_key, with_signed_frames  # noqa: E402

django_application = get_wsgi_application()
# Signed frame URLs are answered here, without a Django request (no session, no database): from the media
# folder, or streamed from object storage after the same check.
application = with_signed_frames(django_application, key=django_signing_key(), media_root=django_media_root())
