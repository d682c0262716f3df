#!/usr/bin/env python
"""The image's HEALTHCHECK: web answers GET /healthz with 200; a worker answers `celery inspect ping`.

Which one is read from /tmp/pleura.role (PLEURA_ROLE_FILE; written by the entry point); migrate and beat
only need to run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path


def web() -> int:
    port = os.environ.get("PLEURA_PORT", "8000")
    # Host: localhost, which DJANGO_ALLOWED_HOSTS must list (compose and k8s set it).
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthz: {error}", file=sys.stderr)
        return 1


def worker() -> int:
    node = f"{os.environ.get('PLEURA_WORKER_NAME', 'cpu')}@{socket.gethostname()}"
    result = subprocess.run(["celery", "--workdir", "platform", "-A", "pleura", "inspect", "ping", "-d", node,
                             "--timeout", "5"], cwd=os.environ.get("PLEURA_APP_DIR", "/srv/pleura/app"),
                            capture_output=True, text=True, timeout=30)
    return 0 if result.returncode == 0 and "pong" in result.stdout else 1


def main() -> int:
    role_file = Path(os.environ.get("PLEURA_ROLE_FILE", "/tmp/pleura.role"))
    role = role_file.read_text().strip() if role_file.is_file() else "web"
    return {"web": web, "worker": worker}.get(role, lambda: 0)()


if __name__ == "__main__":
    sys.exit(main())
