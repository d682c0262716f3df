"""Debian's nginx, from deploy/nginx/pleura.conf, in front of the ASGI server (daphne, as in production) on
the test database (issue 18, item 4): nginx serves the collected static files itself, serves a signed frame
after checking its secure_link token and refuses tampered or expired ones, and passes a websocket upgrade
on /ws/ through to Django's job-progress consumer."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from accounts.models import Role
from accounts.services import user_ensure
from modelling.models import JobStatus, ModelKind, TrainingJob
from studies.frame_urls import expiry, frame_image_url, link_token, signed_path, signing_key
from tests.deploy.nginx_site import NginxSite, free_port, write_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LINK_SECRET = "nginx-link-secret-for-tests"
FRAME = "v7/frames/000003.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"frame bytes" * 10
NO_VERIFY = ssl.create_default_context()
NO_VERIFY.check_hostname = False
NO_VERIFY.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate


@dataclass
class Stack:
    site: NginxSite
    media: Path
    static: Path
    base: str


def _environment(media: Path, static: Path) -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DJANGO_SETTINGS_MODULE="pleura.settings.test", PYTHONUNBUFFERED="1",
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               PLEURA_MEDIA_ROOT=str(media), PLEURA_STATIC_ROOT=str(static), PLEURA_FRAME_LINK_SECRET=LINK_SECRET,
               CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
               CHANNEL_REDIS_URL=django_settings.CHANNEL_REDIS_URL)
    return env


@pytest.fixture(scope="module")
def daphne(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """daphne on the test database, as deploy/docker/entrypoint.sh runs it; static files collected first."""
    base = tmp_path_factory.mktemp("nginx-stack")
    media, static = base / "media", base / "static"
    media.mkdir()
    env = _environment(media, static)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    port = free_port()
    log = (base / "daphne.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--proxy-headers",
                                "pleura.asgi:application"], cwd=REPO / "platform", env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                break
        except urllib.error.HTTPError:
            break  # answering (503 while a dependency is down is still an answer)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((base / "daphne.log").read_text()) from None
            time.sleep(0.3)
    yield f"127.0.0.1:{port}", media, static
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    log.close()


@pytest.fixture
def stack(daphne: tuple[str, Path, Path], run_nginx, tmp_path: Path, settings) -> Stack:  # type: ignore[no-untyped-def]
    upstream, media, static = daphne
    site = write_site(tmp_path / "nginx", upstream=upstream, static_root=static, media_root=media,
                      link_secret=LINK_SECRET)
    run_nginx(site)
    (media / FRAME).parent.mkdir(parents=True, exist_ok=True)
    (media / FRAME).write_bytes(PNG)
    settings.PLEURA_FRAME_LINK_SECRET = LINK_SECRET
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}}}
    return Stack(site, media, static, f"https://127.0.0.1:{site.https_port}")


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=NO_VERIFY) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_static_files_are_served_by_nginx(stack: Stack) -> None:
    status, headers, body = get(f"{stack.base}/static/viewer/shared/ui.js")
    assert status == 200, body
    assert body == (REPO / "frontend" / "shared" / "ui.js").read_bytes()
    assert "javascript" in headers["Content-Type"] and headers["Server"] == "nginx"
    # Served from the folder, not proxied: Django would add its Content-Security-Policy, and knows no such file.
    assert "Content-Security-Policy" not in headers
    (stack.static / "only-in-the-folder.txt").write_text("nginx")
    assert get(f"{stack.base}/static/only-in-the-folder.txt")[0] == 200


def test_plain_http_redirects_to_https(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.site.http_port), timeout=5) as sock:
        sock.sendall(b"GET /login/ HTTP/1.1\r\nHost: pleura.test\r\nConnection: close\r\n\r\n")
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 301") and "Location: https://pleura.test/login/" in answer


def test_pages_and_the_api_are_proxied_to_django(stack: Stack) -> None:
    status, headers, _ = get(f"{stack.base}/login/")
    assert status == 200 and "Content-Security-Policy" in headers
    assert get(f"{stack.base}/api/videos/")[0] == 401
    status, _, body = get(f"{stack.base}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


@pytest.mark.django_db
def test_a_signed_frame_is_served_by_nginx(stack: Stack) -> None:
    url = frame_image_url(FRAME)  # what the API hands out, with the nginx token
    assert url is not None and "&m=" in url
    status, headers, body = get(stack.base + url)
    assert status == 200 and body == PNG
    assert headers["Content-Type"] == "image/png" and "immutable" in headers["Cache-Control"]
    # nginx checked it: the HMAC (Django's check) may even be wrong, the token alone opens the file.
    no_hmac = url.replace("&s=", "&s=0")
    assert get(stack.base + no_hmac)[0] == 200


@pytest.mark.django_db
def test_tampered_and_expired_frame_urls_are_refused(stack: Stack) -> None:
    url = frame_image_url(FRAME)
    assert url is not None
    token = url.rsplit("m=", 1)[1]
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    refused = {
        "tampered token": url.replace(f"m={token}", f"m={flipped}"),
        "no token": url.split("&m=")[0],
        "other frame": url.replace("000003", "000004"),
        "other expiry": url.replace("?e=", "?e=1"),
    }
    old = time.time() - 5 * 24 * 3600  # signed correctly, five days ago: expired
    refused["expired"] = signed_path(signing_key(django_settings.SECRET_KEY), FRAME, now=old, link_secret=LINK_SECRET)
    for reason, bad in refused.items():
        assert get(stack.base + bad)[0] == 403, reason
    # A URL as the API hands it out (both signatures) for a file not in the media volume falls back to Django
    # (object storage: it streams from the bucket), which checks the HMAC too and has no such frame either.
    key = signing_key(django_settings.SECRET_KEY)
    for name, status in (("v7/frames/missing.png", 404), ("v7/frames/notes.txt", 404)):
        (stack.media / "v7/frames/notes.txt").write_text("not a frame")
        good = signed_path(key, name, link_secret=LINK_SECRET)
        assert get(stack.base + good)[0] == status, name
    # The nginx token alone, without Django's signature, opens only what is in the volume.
    expires = expiry()
    alone = f"/frames/v7/frames/missing.png?e={expires}&m={link_token(LINK_SECRET, 'v7/frames/missing.png', expires)}"
    assert get(stack.base + alone)[0] == 403


def _read_frame(sock: ssl.SSLSocket) -> bytes:
    """One unmasked server frame (text, fits in 64 KiB)."""
    head = sock.recv(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(sock.recv(2), "big")
    payload = b""
    while len(payload) < length:
        payload += sock.recv(length - len(payload))
    return payload


def _handshake(stack: Stack, path: str, cookie: str = "") -> tuple[str, ssl.SSLSocket]:
    raw = socket.create_connection(("127.0.0.1", stack.site.https_port), timeout=10)
    sock = NO_VERIFY.wrap_socket(raw, server_hostname="localhost")
    origin = f"https://127.0.0.1:{stack.site.https_port}"
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{stack.site.https_port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: {origin}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n")
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head.decode(errors="replace"), sock


@pytest.mark.usefixtures("django_db_serialized_rollback", "transactional_db")
def test_a_websocket_upgrade_reaches_the_progress_consumer(stack: Stack) -> None:
    admin = user_ensure(username="nginx-admin", role=Role.ADMIN, validation_level=1, password="pw-admin-123")
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING)
    client = Client()
    client.force_login(admin)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
    head, sock = _handshake(stack, f"/ws/jobs/{job.pk}/", cookie)
    with sock:
        assert head.startswith("HTTP/1.1 101"), head
        assert "upgrade: websocket" in head.lower()
        message = json.loads(_read_frame(sock))
    assert message["type"] == "job" and message["job"]["id"] == job.pk
    # Without a session the consumer itself refuses the handshake (Django answered, not nginx).
    head, sock = _handshake(stack, f"/ws/jobs/{job.pk}/")
    sock.close()
    assert head.startswith("HTTP/1.1 403"), head
