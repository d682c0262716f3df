"""A real S3 API on the loopback: moto in server mode as a separate process, and the settings, storage and
Celery workers (each with its own empty media cache) that use it. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.platform.modelling.conftest import REPO, WorkerProcess

BUCKET = "pleura-test-media"
S3_BACKEND = "storages.backends.s3.S3Storage"
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port (its own process, its own session)."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    env = {**os.environ, **DUMMY_AWS}
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield endpoint
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    if process.poll() is None:
        process.kill()
    log.close()


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def s3_storage(moto_endpoint: str, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Django's default storage on a fresh bucket of the moto server; this process's cache in tmp_path."""
    for key, value in DUMMY_AWS.items():
        monkeypatch.setenv(key, value)
    client = s3_client(moto_endpoint)
    bucket = f"{BUCKET}-{time.monotonic_ns()}"
    client.create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.PLEURA_MEDIA_CACHE_DIR = tmp_path / "cache-web"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND}}
    yield client, bucket


def s3_worker_env(endpoint: str, bucket: str, cache: Path, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(DUMMY_AWS)
    env.update(
        DJANGO_SETTINGS_MODULE="pleura.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PLEURA_MEDIA_STORAGE=S3_BACKEND, AWS_STORAGE_BUCKET_NAME=bucket, AWS_S3_ENDPOINT_URL=endpoint,
        AWS_S3_REGION_NAME="us-east-1", PLEURA_MEDIA_CACHE_DIR=str(cache),
        PLEURA_MEDIA_ROOT=str(cache / "no-media-folder"),  # never used for media: proves nothing is shared
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL, CHANNEL_REDIS_URL=settings.CHANNEL_REDIS_URL,
        PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **extra,
    )
    return env


def purge_broker() -> None:
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


class QueueWorker(WorkerProcess):
    """A worker process on chosen queues (the modelling tests' worker listens on all)."""

    def __init__(self, env: dict[str, str], log: Path, queues: str) -> None:
        super().__init__(env, log)
        self.queues = queues

    def start(self) -> None:
        self.handle = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "--workdir", str(REPO / "platform"), "-A", "pleura", "worker",
             "-Q", self.queues, "-c", "1", "--pool", "prefork", "--loglevel", "INFO",
             "-n", f"s3-{os.getpid()}-{time.monotonic_ns()}@%h", "--without-heartbeat", "--without-gossip",
             "--without-mingle"],
            cwd=REPO, env=self.env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def s3_workers(django_db_serialized_rollback: None, transactional_db: None, s3_storage, moto_endpoint: str,
               tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    """A factory of workers on the S3 storage, each with its own empty cache; all stopped at teardown."""
    purge_broker()
    _, bucket = s3_storage
    started: list[QueueWorker] = []

    def start(name: str, queues: str = "gpu,scoring,ingest,analysis", **extra: str) -> QueueWorker:
        cache = tmp_path / f"cache-{name}"
        worker = QueueWorker(s3_worker_env(moto_endpoint, bucket, cache, **extra), tmp_path / f"{name}.log", queues)
        worker.cache = cache  # type: ignore[attr-defined]
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    purge_broker()
