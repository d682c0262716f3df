"""`manage.py import_dataset PATH`: import a COVID-BLUeS folder (videos, expert scores, patients)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from exchange.covid_blues import DEFAULT_SITE, covid_blues_import
from studies.models import Video
from studies.services import videos_assign


def assignees(names: str) -> list[User]:
    """The users named in `--assign a,b`; an unknown name is an error before anything is imported."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    if not wanted:
        raise CommandError("--assign needs at least one user name")
    found = {user.username: user for user in User.objects.filter(username__in=wanted)}
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise CommandError(f"--assign: no such user: {', '.join(unknown)}")
    return [found[name] for name in dict.fromkeys(wanted)]


class Command(BaseCommand):
    help = ("Import the COVID-BLUeS layout: lus_videos/*.mp4, severity.csv and (optional) clinical_variables.csv. "
            "Safe to re-run.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Folder holding lus_videos/, severity.csv and, optionally, clinical_variables.csv")
        parser.add_argument("--site", default=DEFAULT_SITE, help="Site (hospital) name to import under")
        parser.add_argument("--workers", type=int, default=2, help="Decoding threads (default 2)")
        parser.add_argument("--assign", metavar="USER[,USER]", default=None,
                            help="Assign every imported video to these users (comma-separated user names)")

    def handle(self, *args: object, path: Path, site: str, workers: int, assign: str | None = None,
               **options: object) -> None:
        users = assignees(assign) if assign is not None else []
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
        if users and summary.video_ids:
            videos = list(Video.objects.filter(pk__in=summary.video_ids))
            for user in users:
                added = videos_assign(annotator=user, videos=videos)
                self.stdout.write(f"assigned {len(videos)} videos to {user.username} ({added} new)")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{summary.patients} patients, {summary.videos} videos ({summary.videos_created} new, "
            f"{summary.videos_existing} already there), {summary.frames_created} frames added, "
            f"{summary.scores_written} expert scores, {summary.findings_written} expert findings, in {elapsed:.1f} s"
        )
        for note in summary.warnings:
            self.stderr.write(f"  warning: {note}")
        for problem in summary.errors:
            self.stderr.write(f"  error: {problem}")
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} file(s) could not be imported (see above)")
