"""Deployment files under test: rendering deploy/nginx/pleura.conf as the nginx image does, and running
Debian's nginx from it (own prefix, temp folders and pid file, on a free loopback port)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_TEMPLATE = DEPLOY / "nginx" / "pleura.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def template_variables(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render(text: str, values: dict[str, str]) -> str:
    """envsubst as the official image runs it: ${NAME} of set variables replaced, nginx's $vars left alone."""
    missing = template_variables(text) - values.keys()
    assert not missing, f"no value for {sorted(missing)}"
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs Debian's nginx-light")
        pytest.skip("Debian's nginx is not installed (apt-get install nginx-light)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class NginxSite:
    """A full nginx.conf around the rendered template, everything inside `prefix`."""

    prefix: Path
    conf: Path
    http_port: int
    https_port: int
    values: dict[str, str]

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"


def write_site(prefix: Path, *, upstream: str, static_root: Path, media_root: Path, link_secret: str) -> NginxSite:
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    http_port, https_port = free_port(), free_port()
    values = {"PLEURA_WEB_UPSTREAM": upstream, "PLEURA_HTTP_LISTEN": f"127.0.0.1:{http_port}",
              "PLEURA_HTTPS_LISTEN": f"127.0.0.1:{https_port}", "PLEURA_SERVER_NAME": "_",
              "PLEURA_TLS_CERT": str(cert), "PLEURA_TLS_KEY": str(key), "PLEURA_STATIC_ROOT": str(static_root),
              "PLEURA_MEDIA_ROOT": str(media_root), "PLEURA_FRAME_LINK_SECRET": link_secret}
    site = prefix / "pleura.conf"
    site.write_text(render(NGINX_TEMPLATE.read_text(), values))
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir(exist_ok=True)
    # As root, nginx's workers would drop to `nobody`, who cannot read pytest's private temporary folders.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    include {MIME_TYPES};\n    default_type application/octet-stream;\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"    client_body_temp_path {temp['client_body']};\n    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
        f"    include {site};\n"
        "}\n")
    return NginxSite(prefix, conf, http_port, https_port, values)


def nginx_test(site: NginxSite) -> subprocess.CompletedProcess[str]:
    return subprocess.run([nginx_binary(), "-t", "-p", str(site.prefix), "-e", str(site.error_log), "-c",
                           str(site.conf)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def run_nginx() -> Iterator[callable]:  # type: ignore[valid-type]
    """Start nginx in the foreground of a child process; stopped (and waited for) after the test."""
    started: list[subprocess.Popen] = []

    def start(site: NginxSite) -> subprocess.Popen:
        checked = nginx_test(site)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen([nginx_binary(), "-p", str(site.prefix), "-e", str(site.error_log), "-c",
                                    str(site.conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        started.append(process)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", site.https_port), timeout=1).close()
                return process
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {site.error_log.read_text()}") from None
                time.sleep(0.1)

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful stop of master and workers
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
