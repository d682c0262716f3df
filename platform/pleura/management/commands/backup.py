"""`manage.py backup --out DIR`: the database and the media storage into an empty folder (pleura.backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from pleura.backup import backup


class Command(BaseCommand):
    help = "Back up the database (pg_dump custom format, or a SQLite copy) and every media file into DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="an empty (or new) folder")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup(options["out"])
        except ApplicationError as error:
            raise CommandError(str(error)) from error
        size = sum(entry["size"] for entry in manifest["media"])
        self.stdout.write(f"backed up the {manifest['database']['engine']} database and "
                          f"{len(manifest['media'])} media files ({size} bytes) into {options['out']}")
