"""Embedded mode for `make demo`: SQLite, local media folder, a fixed development key.

DEBUG is off unless DJANGO_DEBUG=1: the demo shows the viewer's error pages (404.html, 403.html, 500.html),
not Django's debug pages; WhiteNoise serves the static files either way."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="pleura-local-development-key-not-for-production")
PLEURA_PSEUDONYM_KEY = env.str("PLEURA_PSEUDONYM_KEY", default="pleura-local-pseudonym-key")
