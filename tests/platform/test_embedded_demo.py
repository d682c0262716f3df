"""The embedded path of `make demo`: SQLite, local media, phantom data, a spawned worker, a server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "DJANGO_SETTINGS"))}
    env.update(PLEURA_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="pleura.settings.local", PYTHONUNBUFFERED="1")
    return env


def manage(var_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=embedded_env(var_dir),
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_prepares_sqlite_users_and_phantoms(tmp_path):
    done = manage(tmp_path, "demo", "--no-serve", "--videos", "2", "--frames", "8")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pleura.sqlite3").is_file()
    assert "admin      / pleura-admin" in done.stdout
    assert "annotator  / pleura-annotator" in done.stdout
    check = manage(tmp_path, "shell", "--no-imports", "-c",
                   "from studies.models import Video, Frame; from annotations.models import FrameScore, Contour;"
                   "from studies.models import VideoAssignment;"
                   "print(Video.objects.count(), Frame.objects.count(), FrameScore.objects.count() > 0,"
                   " Contour.objects.count() > 0, VideoAssignment.objects.filter(annotator__username='annotator').count())")
    assert check.stdout.split() == ["2", "16", "True", "True", "2"], check.stderr
    again = manage(tmp_path, "demo", "--no-serve", "--videos", "2", "--frames", "8")
    assert again.returncode == 0 and "Generating phantom data" not in again.stdout


@pytest.mark.slow
def call(url: str, body: object = None, **headers: str) -> tuple[int, object]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def label_writes_over_token_auth(base: str) -> None:
    """The write path's SQLite branches (token auth, the video's visibility, idempotency, the agreement
    mark): the demo annotator logs in over the API, saves scores with an Idempotency-Key, retries it."""
    status, body = call(f"{base}/api/auth/token/", {"username": "annotator", "password": "pleura-annotator"})
    assert status == 200, body
    auth = {"Authorization": f"Token {body['token']}"}  # type: ignore[index]
    status, videos = call(f"{base}/api/videos/?limit=1", **auth)
    assert status == 200 and videos["results"], videos  # type: ignore[index]
    video = videos["results"][0]["id"]  # type: ignore[index]
    status, frames = call(f"{base}/api/frames/?video={video}&page_size=2", **auth)
    assert status == 200, frames
    items = [{"frame": f["id"], "score": 2, "version": 0} for f in frames["results"]]  # type: ignore[index]
    key = {"Idempotency-Key": "demo-write-1", **auth}
    status, saved = call(f"{base}/api/videos/{video}/frame-scores/", {"items": items}, **key)
    assert status == 200 and [label["version"] for label in saved] == [1] * len(items), saved  # type: ignore[union-attr]
    status, again = call(f"{base}/api/videos/{video}/frame-scores/", {"items": items}, **key)
    assert status == 200 and again == saved, again  # replayed, not applied twice
    assert call(f"{base}/api/videos/{10**30}/frame-scores/", {"items": items}, **auth)[0] == 404
    assert call(f"{base}/api/videos/", **{"Authorization": "Token " + "0" * 40})[0] == 401


def test_demo_serves_and_its_worker_runs_jobs(tmp_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{port}",
                               "--videos", "3", "--frames", "16"], cwd=REPO, env=embedded_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                    status = response.status
            except OSError:
                assert server.poll() is None, "demo exited early"
                time.sleep(0.5)
        assert status == 200
        label_writes_over_token_auth(f"http://127.0.0.1:{port}")
        submit = manage(tmp_path, "shell", "--no-imports", "-c", (
            "from studies.tasks import ingest_file; from studies.models import Patient, Video;"
            "from ml.data import write_video; from ml.phantom import generate_phantom_video; import tempfile, pathlib;"
            "d = pathlib.Path(tempfile.mkdtemp());"
            "p = write_video(d / 'job.avi', generate_phantom_video(seed=99, n_frames=4, height=96, width=96));"
            "r = ingest_file.delay(str(p), patient_id=Patient.objects.first().pk);"
            "print('VIDEO', Video.objects.get(pk=r.get(timeout=90)).frame_count)"), timeout=150)
        assert "VIDEO 4" in submit.stdout, submit.stdout + submit.stderr

        train = manage(tmp_path, "shell", "--no-imports", "-c", (
            "import time; from modelling.services import training_job_submit; from modelling.models import *;"
            "from studies.models import Frame;"
            "job = training_job_submit(kind='frame_scorer', parameters={'model': 'cnn_sord', 'epochs': 1,"
            " 'size': [64, 64], 'batch_size': 16}, data_selection={'validation_fraction': 0.0});"
            "deadline = time.time() + 240\n"
            "while time.time() < deadline and TrainingJob.objects.get(pk=job.pk).status in ('queued', 'running'):"
            " time.sleep(0.5)\n"
            "job.refresh_from_db(); print('JOB', job.status, job.error[:300]);"
            "version = job.model_version\n"
            "while time.time() < deadline and FramePrediction.objects.filter(model_version=version).count()"
            " < Frame.objects.count(): time.sleep(0.5)\n"
            "print('PREDICTED', FramePrediction.objects.filter(model_version=version).count() == Frame.objects.count())"),
            timeout=300)
        assert "JOB succeeded" in train.stdout, train.stdout + train.stderr
        assert "PREDICTED True" in train.stdout, train.stdout + train.stderr
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)


@pytest.mark.slow
def test_demo_shows_friendly_error_pages_and_logs_each_request_once(tmp_path):
    """DEBUG is off in the demo: the viewer's 404 page (static files still served), JSON under /api/,
    and each request's log line printed once (not by both Django's and the root logger's handlers)."""
    assert manage(tmp_path, "demo", "--no-serve", "--videos", "1", "--frames", "4").returncode == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{port}", "--no-worker"],
                              cwd=REPO, env=embedded_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def get(path: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read().decode()

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get("/login/")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "demo did not start"
            time.sleep(0.5)
        status, content_type, body = get("/no/such/page-once/")
        assert status == 404 and "text/html" in content_type
        assert "Page not found" in body and 'href="/"' in body and "Using the URLconf" not in body
        assert get("/static/viewer/shared/style.css")[0] == 200
        status, content_type, _ = get("/api/no/such/endpoint/")
        assert status == 404 and content_type == "application/json"
    finally:
        os.killpg(server.pid, 15)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            output, _ = server.communicate()
    lines = [line for line in output.splitlines() if "/no/such/page-once/" in line]
    assert len([line for line in lines if "404" in line and "GET" in line]) == 1, output[-4000:]


@pytest.mark.parametrize("debug", ["0", "1"])
def test_server_log_lines_print_once(tmp_path, debug):
    """Django's default config gives the "django" logger a console handler of its own (DEBUG only) that
    propagates to the root's too; daphne's request lines (django.channels.server) came out twice."""
    env = {**embedded_env(tmp_path), "DJANGO_DEBUG": debug}
    done = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c",
                           "import logging; logging.getLogger('django.channels.server').info('HTTP GET /once/ 200');"
                           "logging.getLogger('django.request').warning('Not Found: /once-too/')"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert output.count("HTTP GET /once/ 200") == 1, output
    assert output.count("Not Found: /once-too/") == 1, output


def test_demo_runs_one_worker_per_queue_family(settings):
    """Training, scoring and the light queues each have their own worker, one task at a time: an
    agreement report or an export never waits behind a training job, nor scoring behind training."""
    from workflows.management.commands.demo import DEMO_WORKERS, worker_command

    queues = [queue for _, names in DEMO_WORKERS for queue in names.split(",")]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert sorted(queues) == sorted(routed)  # every queue consumed, by exactly one worker
    assert [names for name, names in DEMO_WORKERS if name == "training"] == ["gpu"]
    assert [names for name, names in DEMO_WORKERS if name == "scoring"] == ["scoring"]
    for name, names in DEMO_WORKERS:
        command = worker_command(name, names)
        assert command[command.index("-Q") + 1] == names and command[command.index("-c") + 1] == "1"
        assert command[command.index("-n") + 1] == f"demo-{name}@%h"
