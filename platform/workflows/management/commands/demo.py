"""`manage.py demo`: the embedded platform in one command (what `make demo` runs).

Migrates the SQLite database, creates the demo users (passwords printed), generates phantom data
once, starts a real Celery worker process on the filesystem broker and serves on 127.0.0.1:8000.
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
        parser.add_argument("--no-worker", action="store_true", help="Do not start a Celery worker")

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
        worker = None if no_worker else self._start_worker()
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _start_worker(self) -> subprocess.Popen:
        """A real worker process on every queue (embedded mode has one machine)."""
        platform_dir = Path(settings.PLATFORM_ROOT)
        command = [sys.executable, "-m", "celery", "--workdir", str(platform_dir), "-A", "pleura", "worker",
                   "-Q", "ingest,analysis,gpu", "-c", "1", "--loglevel", "INFO", "-n", "demo@%h"]
        self.stdout.write("Starting a Celery worker: " + " ".join(command[1:]))
        return subprocess.Popen(command, env=os.environ.copy())
