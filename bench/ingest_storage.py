"""Ingest of the COVID-BLUeS dev folder into object storage (moto's S3 server on the loopback) vs a local
media folder: wall time and peak memory of the ingesting process (issue 18's figures).

Usage: .venv/bin/python bench/ingest_storage.py [--videos N] [--workers 2] [--out FILE]
Each storage is ingested by its own child process (fresh SQLite database, fresh media folder or bucket),
through `exchange.covid_blues.covid_blues_import` as `manage.py import_dataset` does, so its max RSS
(getrusage ru_maxrss) is that ingest's alone. moto keeps the objects in its own process's memory: its max
RSS is reported apart. --videos N links the first N videos (and the CSVs) into a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import DEV_DATA, free_port, setup_django

S3_BACKEND = "storages.backends.s3.S3Storage"
BUCKET = "pleura-bench-ingest"
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
             "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def subset(root: Path, videos: int | None) -> Path:
    """The dev folder itself, or a temporary folder linking its CSVs and first `videos` videos."""
    if not videos:
        return root
    folder = Path(tempfile.mkdtemp(prefix="pleura-bench-subset-"))
    (folder / "lus_videos").mkdir()
    for csv in root.glob("*.csv"):
        (folder / csv.name).symlink_to(csv)
    for video in sorted((root / "lus_videos").glob("*.mp4"))[:videos]:
        (folder / "lus_videos" / video.name).symlink_to(video)
    return folder


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, subprocess.Popen]]:
    """moto's S3 server on a free loopback port (as tests/platform/storage/conftest.py starts it)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **DUMMY_AWS},
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield endpoint, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mib(pid: int) -> float:
    """A live process's max RSS so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(root: Path, workers: int, storage: str) -> None:
    """One ingest in this process; prints one JSON line."""
    if storage == "s3":
        import boto3

        endpoint = os.environ["AWS_S3_ENDPOINT_URL"]
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    setup_django()
    from django.core.files.storage import storages

    from exchange.covid_blues import covid_blues_import

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    summary = covid_blues_import(root=root, workers=workers)
    seconds = time.perf_counter() - started
    print(json.dumps({"storage": type(storages["default"]).__name__, "seconds": seconds,
                      "videos": summary.videos_created, "frames": summary.frames_created,
                      "errors": sum(not e.startswith("severity.csv: no video file") for e in summary.errors),
                      "rss_before_mib": before,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(root: Path, workers: int, storage: str, env: dict[str, str]) -> dict:
    command = [sys.executable, __file__, "--child", storage, "--root", str(root), "--workers", str(workers)]
    done = subprocess.run(command,
                          env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{storage} ingest failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DATA)
    parser.add_argument("--videos", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", choices=("local", "s3"))
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.root, args.workers, args.child)
        return
    root = subset(args.data, args.videos)
    base = {"DJANGO_SETTINGS_MODULE": "pleura.settings.local", "OMP_NUM_THREADS": "1"}
    os.environ.pop("DATABASE_URL", None)  # a fresh SQLite file per child
    results = [run_child(root, args.workers, "local", base)]
    with moto_server() as (endpoint, moto):
        s3 = {**base, **DUMMY_AWS, "PLEURA_MEDIA_STORAGE": S3_BACKEND, "AWS_STORAGE_BUCKET_NAME": BUCKET,
              "AWS_S3_ENDPOINT_URL": endpoint, "AWS_S3_REGION_NAME": "us-east-1"}
        results.append(run_child(root, args.workers, "s3", s3))
        moto_mib = peak_rss_mib(moto.pid)
    megabytes = sum(p.stat().st_size for p in (root / "lus_videos").glob("*.mp4")) / 2**20
    print(f"{results[0]['videos']} videos ({megabytes:.0f} MiB of MP4, {results[0]['frames']} frames), "
          f"{args.workers} decode threads, fresh SQLite database per run")
    for r in results:
        print(f"  {r['storage']:<18} {r['seconds']:6.1f} s  {r['frames'] / r['seconds']:5.0f} frames/s  "
              f"peak RSS {r['peak_rss_mib']:5.0f} MiB (after Django set-up {r['rss_before_mib']:.0f} MiB)  "
              f"errors {r['errors']}")
    print(f"  moto S3 server max RSS {moto_mib:.0f} MiB (holds the objects in memory; a separate process)")


if __name__ == "__main__":
    main()
