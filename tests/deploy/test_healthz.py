"""`/healthz` (issue 18, items 4 and 6): the readiness probe of compose, the Dockerfile and Kubernetes. No login,
nothing secret in the answer, 503 while the database or the broker cannot be reached."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db
def test_healthy_without_logging_in() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "channels": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_broker_down_is_503_and_names_no_url(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = CLOSED
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable" and response.json()["database"] == "ok"
    assert b"redis://" not in response.content and b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_database_down_is_503() -> None:
    with mock.patch("pleura.health.connection.cursor", side_effect=OperationalError("down")):
        response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "unavailable"


@pytest.mark.django_db
def test_only_get() -> None:
    assert Client().post("/healthz").status_code == 405


def test_production_answers_probes_over_plain_http(tmp_path: Path) -> None:
    """The HTTPS redirect would turn every probe into a 301: /healthz is exempt, every other path is not."""
    code = ("import django; django.setup(); from django.test import Client; c = Client(); "
            "print([c.get('/healthz').status_code, c.get('/login/').status_code])")
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")},
           "DJANGO_SETTINGS_MODULE": "pleura.settings.production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
           "PLEURA_PSEUDONYM_KEY": secrets.token_urlsafe(32), "DJANGO_ALLOWED_HOSTS": "testserver",
           "PLEURA_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": CLOSED, "CHANNEL_REDIS_URL": ""}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO / "platform", env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    health, login = json.loads(result.stdout.strip().splitlines()[-1])
    assert health == 503 and login == 301  # answered (the broker is down here), not redirected
