"""`manage.py pacs_poll`: import new US studies from every endpoint with auto_import on (the beat job's work)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from pacs.services import endpoints_poll


class Command(BaseCommand):
    help = "Import new ultrasound studies matching each auto-import endpoint's rule."

    def handle(self, *args: object, **options: object) -> None:
        for name, summary in endpoints_poll().items():
            self.stdout.write(f"{name}: {len(summary.imported)} new, {summary.already} already imported, "
                              f"{summary.skipped} skipped, {len(summary.errors)} errors")
