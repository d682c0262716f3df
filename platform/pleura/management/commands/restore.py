"""`manage.py restore --from DIR`: a `backup` folder back into the configured database and media storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from pleura.backup import restore


class Command(BaseCommand):
    help = ("Restore a backup: pg_restore --clean into the configured database (stop web and workers first), "
            "media files copied back into the storage.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, type=Path, help="a folder written by backup")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore(options["source"])
        except ApplicationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"restored the database and {len(manifest['media'])} media files from {options['source']}")
