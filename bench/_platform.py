"""Shared set-up for platform benchmarks: a fresh database, Django configured, a worker process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "covid-blues-dev"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(*, postgres_db: str | None = None, broker: str | None = None) -> Path:
    """Configure Django on a fresh SQLite file (or a re-created PostgreSQL database) in a temp folder."""
    scratch = Path(tempfile.mkdtemp(prefix="pleura-bench-"))
    os.environ["PLEURA_VAR_DIR"] = str(scratch)
    os.environ["PLEURA_MEDIA_ROOT"] = str(scratch / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")
    if postgres_db:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", postgres_db], check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", postgres_db], check=True)
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{postgres_db}"
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    for path in (str(REPO / "platform"), str(REPO)):
        if path not in sys.path:
            sys.path.append(path)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    (scratch / "media").mkdir(exist_ok=True)
    return scratch


def start_worker(log: Path, queues: str = "gpu,scoring,ingest,analysis") -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "celery", "--workdir", str(REPO / "platform"), "-A", "pleura",
                             "worker", "-Q", queues, "-c", "1", "--loglevel", "INFO", "--without-heartbeat",
                             "--without-gossip", "--without-mingle"], cwd=REPO, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
