"""`manage.py import_dataset PATH`: import a COVID-BLUeS folder (videos, expert scores, patients)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from exchange.covid_blues import DEFAULT_SITE, covid_blues_import


class Command(BaseCommand):
    help = "Import the COVID-BLUeS layout: lus_videos/*.mp4, severity.csv, clinical_variables.csv. Safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Folder holding lus_videos/, severity.csv, clinical_variables.csv")
        parser.add_argument("--site", default=DEFAULT_SITE, help="Site (hospital) name to import under")
        parser.add_argument("--workers", type=int, default=2, help="Decoding threads (default 2)")

    def handle(self, *args: object, path: Path, site: str, workers: int, **options: object) -> None:
        started = time.perf_counter()
        bar = tqdm(total=0, unit="video", desc="Importing", disable=options.get("verbosity", 1) == 0)

        def progress(done: int, total: int, name: str) -> None:
            bar.total = total
            bar.set_postfix_str(name, refresh=False)
            bar.update(done - bar.n)

        try:
            summary = covid_blues_import(root=path, site_name=site, workers=workers, progress=progress)
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        finally:
            bar.close()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{summary.patients} patients, {summary.videos} videos ({summary.videos_created} new, "
            f"{summary.videos_existing} already there), {summary.frames_created} frames added, "
            f"{summary.scores_written} expert scores, {summary.findings_written} expert findings, in {elapsed:.1f} s"
        )
        for problem in summary.errors:
            self.stderr.write(f"  error: {problem}")
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} file(s) could not be imported (see above)")
