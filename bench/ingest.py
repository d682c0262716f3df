"""Import the whole COVID-BLUeS dev folder into a fresh database and print throughput and peak memory.

Usage: .venv/bin/python bench/ingest.py [PATH] [--workers N]
Uses a fresh SQLite file and media folder in a temporary directory unless DATABASE_URL is set
(then that database must be empty of these videos). Goal: 237 videos / ~21,000 frames in < 60 s,
peak memory < 1 GiB, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "covid-blues-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="pleura-bench-ingest-")
    os.environ.setdefault("PLEURA_VAR_DIR", scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")
    sys.path.append(str(REPO / "platform"))
    import django

    django.setup()
    from django.core.management import call_command

    from exchange.covid_blues import covid_blues_import

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    summary = covid_blues_import(root=args.path, workers=args.workers)
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    frames = summary.frames_created
    print(f"database        {django.conf.settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"workers         {args.workers}")
    print(f"patients        {summary.patients}")
    print(f"videos          {summary.videos_created} new, {summary.videos_existing} existing")
    print(f"frames          {frames}")
    print(f"expert scores   {summary.scores_written}")
    print(f"errors          {len(summary.errors)}")
    print(f"wall time       {elapsed:.1f} s")
    print(f"frames/s        {frames / elapsed:.0f}")
    print(f"peak memory     {peak_mib:.0f} MiB (process max RSS)")


if __name__ == "__main__":
    main()
