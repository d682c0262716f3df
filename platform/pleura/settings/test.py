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
STORAGES["default"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(MEDIA_ROOT)},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
