"""A real Celery worker process on the test database, the test media folder and Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[3]


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.handle = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "--workdir", str(REPO / "platform"), "-A", "pleura", "worker",
             "-Q", "gpu,scoring,ingest,analysis", "-c", "1", "--pool", "prefork", "--loglevel", "INFO",
             "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h", "--without-heartbeat", "--without-gossip",
             "--without-mingle"],
            cwd=REPO, env=self.env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True)

    def children(self) -> list[int]:
        assert self.process is not None
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.handle.close()
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def _purge_broker() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.fixture
def celery_worker(django_db_serialized_rollback: None, transactional_db: None, media_root: Path,
                  tmp_path: Path) -> Iterator[WorkerProcess]:
    """Started on demand, stopped (before the database is flushed) at teardown. Committed data is
    visible to the worker; serialized rollback restores the seeded scales after the flush."""
    _purge_broker()
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        DJANGO_SETTINGS_MODULE="pleura.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PLEURA_MEDIA_ROOT=str(media_root), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CHANNEL_REDIS_URL=settings.CHANNEL_REDIS_URL, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()
    _purge_broker()


def wait_for(condition: Callable[[], object], *, timeout: float, what: str,
             worker: WorkerProcess | None = None, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    detail = f"\n--- worker log ---\n{worker.output()}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
