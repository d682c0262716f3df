"""WSGI entry point (gunicorn pleura.wsgi with platform/ on the path)."""

import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from pleura.paths import add_platform_to_path

add_platform_to_path()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
