"""`manage.py demo`: the embedded platform in one command (what `make demo` runs).

Migrates the SQLite database, creates the demo users (passwords printed), generates phantom data
once, starts real Celery worker processes on the filesystem broker (one per queue family, so an
agreement report never waits behind a training job) and serves on 127.0.0.1:8000.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import PHANTOM_SITE
from studies.models import Video
from studies.services import videos_assign

#: The demo's workers: name, queues. One job at a time each (-c 1): training holds the most memory, and
#: scoring and the light queues (ingestion, agreement reports, exports) each get their own process.
DEMO_WORKERS = [("training", "gpu"), ("scoring", "scoring"), ("light", "ingest,analysis")]

DEMO_USERS = [  # username, role, level, password, staff
    ("admin", Role.ADMIN, 4, "pleura-admin", True),
    ("annotator", Role.ANNOTATOR, 1, "pleura-annotator", False),
    ("validator", Role.VALIDATOR, 2, "pleura-validator", False),
    ("clinician", Role.CLINICIAN, 4, "pleura-clinician", False),
]


class Command(BaseCommand):
    help = "Run Pleura in embedded mode: SQLite, local media, a spawned worker, demo data, a server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port to serve on")
        parser.add_argument("--videos", type=int, default=12, help="Phantom videos to generate on first run")
        parser.add_argument("--frames", type=int, default=60, help="Frames per phantom video")
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything, then exit")
        parser.add_argument("--no-worker", action="store_true", help="Do not start the Celery workers")

    def handle(self, *args: object, addr: str, videos: int, frames: int, no_serve: bool, no_worker: bool,
               **options: object) -> None:
        for folder in (settings.VAR_DIR, settings.MEDIA_ROOT, settings.BROKER_DIR / "queue",
                       settings.BROKER_DIR / "processed", settings.BROKER_DIR / "control"):
            Path(folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0, interactive=False)
        for username, role, level, password, staff in DEMO_USERS:
            user_ensure(username=username, role=role, validation_level=level, password=password,
                        is_staff=staff, is_superuser=role == Role.ADMIN)
        if not Video.objects.filter(exam__patient__site__name=PHANTOM_SITE).exists():
            self.stdout.write("Generating phantom data (first run only)…")
            call_command("generate_phantoms", videos=videos, frames=frames, verbosity=options.get("verbosity", 1))
        # The demo annotator's worklist holds the phantom videos (blind labelling starts from there).
        videos_assign(annotator=User.objects.get(username="annotator"),
                      videos=Video.objects.filter(exam__patient__site__name=PHANTOM_SITE))

        self.stdout.write(self.style.SUCCESS(f"\nPleura demo on http://{addr}/ (viewer; admin site at /admin/) — demo users (username / password):"))
        for username, role, level, password, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<10} / {password:<17} {role}, validation level {level}")
        self.stdout.write(f"Data: {settings.DATABASES['default']['NAME']}, media in {settings.MEDIA_ROOT}\n")
        if no_serve:
            return
        workers = [] if no_worker else [self._start_worker(name, queues) for name, queues in DEMO_WORKERS]
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _start_worker(self, name: str, queues: str) -> subprocess.Popen:
        """A real worker process on `queues`, one task at a time."""
        self.stdout.write(f"Starting the {name} worker: " + " ".join(worker_command(name, queues)[1:]))
        return subprocess.Popen(worker_command(name, queues), env=os.environ.copy())


def worker_command(name: str, queues: str) -> list[str]:
    """The command line of one demo worker (a process of its own per queue family)."""
    return [sys.executable, "-m", "celery", "--workdir", str(Path(settings.PLATFORM_ROOT)), "-A", "pleura", "worker",
            "-Q", queues, "-c", "1", "--loglevel", "INFO", "-n", f"demo-{name}@%h"]
