"""Production: secrets and hosts must come from the environment; refuse to start without them."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = False
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
if not env.str("PLEURA_PSEUDONYM_KEY", default=""):
    raise ImproperlyConfigured("PLEURA_PSEUDONYM_KEY must be set in production")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
