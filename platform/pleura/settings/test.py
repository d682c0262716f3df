"""Test settings: the real PostgreSQL by default (DATABASE_URL overrides)."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, STORAGES, env

SECRET_KEY = "pleura-test-key"
PLEURA_PSEUDONYM_KEY = "pleura-test-pseudonym-key"
DATABASES["default"] = env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/pleura")
# A run of its own can take another test database name (two suites on one server must not collide).
DATABASES["default"]["TEST"] = {"NAME": env.str("PLEURA_TEST_DB", default="test_pleura")}
# tests/conftest.py points storage at a fresh temporary folder per test; this is the fallback.
MEDIA_ROOT = Path(env.str("PLEURA_MEDIA_ROOT", default="/tmp/pleura-test-media"))
if "FileSystem" in env.str("PLEURA_MEDIA_STORAGE", default="FileSystem"):  # the S3 tests' workers set it
    STORAGES["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Integration tests use the real Redis: a database of their own for the broker and the channel layer.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CHANNEL_REDIS_URL = env.str("CHANNEL_REDIS_URL", default="redis://127.0.0.1:6379/14")
CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                              "CONFIG": {"hosts": [CHANNEL_REDIS_URL]}}}

# Every test client and live browser comes from 127.0.0.1: the per-address login limit would add up across
# the whole suite (schemathesis alone posts hundreds of bad logins). Its own tests set it lower.
PLEURA_LOGIN_MAX_FAILURES_PER_ADDRESS = 10**9
