"""Operations (issue 18, item 6): liveness, Prometheus metrics behind a token, JSON logs, job durations."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.test import Client
from prometheus_client import REGISTRY

from pleura import worker_signals
from pleura.logs import JsonFormatter, bind
from pleura.metrics import count_ingested_frames
from studies.models import Exam, Video
from studies.services import patient_upsert, site_ensure

REPO = Path(__file__).resolve().parents[2]
TOKEN = "metrics-test-token"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_livez_checks_no_dependency(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # down: readiness fails, liveness does not care
    with mock.patch("pleura.health.connection.cursor", side_effect=AssertionError("no database for liveness")):
        response = Client().get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_metrics_hidden_without_token_or_allowed_address(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PLEURA_METRICS_TOKEN = TOKEN
    settings.PLEURA_METRICS_ALLOWED_IPS = []
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    settings.PLEURA_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404  # no token set: no way in
    settings.PLEURA_METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    assert Client().get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_request_latency_and_queue_depth(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PLEURA_METRICS_TOKEN = TOKEN
    before = sample("pleura_http_request_duration_seconds_count", route="healthz", method="GET", status="2xx")
    Client().get("/healthz")
    after = sample("pleura_http_request_duration_seconds_count", route="healthz", method="GET", status="2xx")
    assert after == before + 1
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("ingest")
    broker.rpush("ingest", b"a", b"b", b"c")
    try:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        gpu_depth = broker.llen("gpu")  # shared broker: other tests' jobs may still be waiting there
    finally:
        broker.delete("ingest")
        broker.close()
    assert response.status_code == 200
    text = response.content.decode()
    assert 'pleura_queue_depth{queue="ingest"} 3.0' in text
    assert f'pleura_queue_depth{{queue="gpu"}} {float(gpu_depth)}' in text
    assert 'pleura_http_request_duration_seconds_bucket{le="0.005",method="GET",route="healthz",status="2xx"}' in text


@pytest.mark.django_db
def test_frames_ingested_counted_from_the_signal() -> None:
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Ops"), code="ops-1",
                                                      covid_status="positive"))
    video = Video.objects.create(exam=exam, fps=25, frame_count=7, width=8, height=8, format="mp4",
                                 source_file="ops.mp4", original_name="ops.mp4", sha256="e" * 64)
    before = sample("pleura_frames_ingested_total")
    count_ingested_frames(sender=Video, video_ids=[video.pk])
    assert sample("pleura_frames_ingested_total") == before + 7


def test_job_duration_from_task_signals() -> None:
    task = SimpleNamespace(name="ml.train", request=SimpleNamespace(delivery_info={"routing_key": "gpu"}))
    labels = {"task": "ml.train", "queue": "gpu", "outcome": "success"}
    before = sample("pleura_job_duration_seconds_count", **labels)
    worker_signals.job_started(task_id="t1", task=task)
    worker_signals.job_finished(task_id="t1", task=task, state="SUCCESS")
    assert sample("pleura_job_duration_seconds_count", **labels) == before + 1
    assert "t1" not in worker_signals.STARTED


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_worker_metrics_port(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    monkeypatch.setenv("PLEURA_WORKER_METRICS_PORT", str(port))
    monkeypatch.setenv("PLEURA_WORKER_METRICS_ADDR", "127.0.0.1")
    worker_signals.serve_worker_metrics()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert b"pleura_job_duration_seconds" in response.read()


MULTIPROCESS_CHILD = """
import sys
from pleura.metrics import FRAMES_INGESTED
FRAMES_INGESTED.inc(int(sys.argv[1]))
"""
MULTIPROCESS_SCRAPE = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "pleura.settings.test"
import django
django.setup()
from prometheus_client import generate_latest
from pleura.metrics import scrape_registry
print(generate_latest(scrape_registry()).decode())
"""


def test_multiprocess_mode_sums_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO / "platform")}
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_CHILD, count], env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", MULTIPROCESS_SCRAPE], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert "pleura_frames_ingested_total 7.0" in out


def test_json_log_line_has_the_expected_keys() -> None:
    record = logging.LogRecord("studies.ingest", logging.WARNING, __file__, 1, "stored %d frames", (5,), None)
    record.video_id = 12
    token = bind(request_id="abc123", user_id=4)
    try:
        line = JsonFormatter().format(record)
    finally:
        from pleura.logs import LOG_CONTEXT

        LOG_CONTEXT.reset(token)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "studies.ingest"
    assert entry["message"] == "stored 5 frames" and entry["video_id"] == 12
    assert entry["request_id"] == "abc123" and entry["user_id"] == 4 and "time" in entry
    assert "\n" not in line


def test_json_format_selected_by_env() -> None:
    code = ("import logging, django; django.setup(); from django.conf import settings; "
            "print(type(logging.getLogger().handlers[0].formatter).__name__)")
    env = {**os.environ, "PLEURA_LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "pleura.settings.test",
           "PYTHONPATH": str(REPO / "platform")}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
                         timeout=60).stdout
    assert out.strip() == "JsonFormatter"
    assert settings.LOGGING["formatters"]["default"].get("format")  # the tests themselves: text


@pytest.mark.django_db
def test_request_id_echoed() -> None:
    assert Client().get("/livez", HTTP_X_REQUEST_ID="req-42")["X-Request-ID"] == "req-42"
    assert len(Client().get("/livez", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"]) == 32


def test_json_logs_in_workers_too() -> None:
    """With json, Celery leaves logging to Django's LOGGING (a setup_logging receiver); text keeps Celery's."""
    code = "import pleura.celery; from celery.signals import setup_logging; print(bool(setup_logging.receivers))"
    outputs = []
    for log_format in ("json", "text"):
        env = {**os.environ, "PLEURA_LOG_FORMAT": log_format, "DJANGO_SETTINGS_MODULE": "pleura.settings.test",
               "PYTHONPATH": str(REPO / "platform")}
        outputs.append(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                                      text=True, timeout=60).stdout.strip())
    assert outputs == ["True", "False"]
