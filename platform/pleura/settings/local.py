"""Embedded mode for `make demo`: SQLite, local media folder, DEBUG on, a fixed development key."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="pleura-local-development-key-not-for-production")
PLEURA_PSEUDONYM_KEY = env.str("PLEURA_PSEUDONYM_KEY", default="pleura-local-pseudonym-key")
