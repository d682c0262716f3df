"""The image's entry point and HEALTHCHECK (deploy/docker), run here outside a container: `web` starts daphne
and is healthy while /healthz is 200; `worker` starts a Celery worker whose node answers `celery inspect ping`,
and the check fails for a node that does not run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.deploy.nginx_site import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"


@pytest.fixture
def container_env(db: None, tmp_path: Path) -> dict[str, str]:
    """What the image sets, pointed at this checkout, the test database and this test's Redis databases."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               DJANGO_SETTINGS_MODULE="pleura.settings.test", PLEURA_APP_DIR=str(REPO),
               PLEURA_ROLE_FILE=str(tmp_path / "role"), PLEURA_MEDIA_ROOT=str(tmp_path / "media"),
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
               CHANNEL_REDIS_URL=django_settings.CHANNEL_REDIS_URL, OMP_NUM_THREADS="1")
    return env


@pytest.fixture
def start(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    processes: list[subprocess.Popen] = []

    def run(role: str, env: dict[str, str]) -> subprocess.Popen:
        log = (tmp_path / f"{role}.log").open("w")
        process = subprocess.Popen(["sh", str(ENTRYPOINT), role], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        processes.append(process)
        return process

    yield run
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def healthcheck(env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, timeout=60).returncode


def wait_healthy(env: dict[str, str], process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while healthcheck(env) != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never healthy:\n{log.read_text()[-4000:]}")
        time.sleep(1)


def test_web_role_is_healthy_and_a_closed_port_is_not(container_env: dict[str, str], start,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    env = {**container_env, "PLEURA_PORT": str(free_port())}
    process = start("web", env)
    wait_healthy(env, process, tmp_path / "web.log", timeout=90)
    assert (tmp_path / "role").read_text().strip() == "web"
    assert healthcheck({**env, "PLEURA_PORT": str(free_port())}) == 1  # nothing listens there


def test_web_role_is_unhealthy_while_the_broker_is_down(container_env: dict[str, str], start,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    env = {**container_env, "PLEURA_PORT": str(free_port()), "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    process = start("web", env)
    deadline = time.monotonic() + 90
    while "Listening on TCP address" not in (tmp_path / "web.log").read_text():
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
        time.sleep(0.5)
    assert healthcheck(env) == 1


def test_worker_role_answers_ping_for_its_own_node(container_env: dict[str, str], start,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    env = {**container_env, "PLEURA_WORKER_NAME": f"deploytest{os.getpid()}", "PLEURA_WORKER_QUEUES": "deploy-test",
           "PLEURA_WORKER_CONCURRENCY": "1"}
    process = start("worker", env)
    wait_healthy(env, process, tmp_path / "worker.log", timeout=180)
    assert (tmp_path / "role").read_text().strip() == "worker"
    assert healthcheck({**env, "PLEURA_WORKER_NAME": "no-such-node"}) == 1
    os.killpg(process.pid, signal.SIGTERM)  # warm shutdown, as `docker stop` and Kubernetes send
    assert process.wait(timeout=60) == 0
