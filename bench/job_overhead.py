"""Job overhead with Redis and PostgreSQL: submission -> a warm worker starts the job / its first batch.

Usage: .venv/bin/python bench/job_overhead.py [--jobs 5]
Re-creates the PostgreSQL database `pleura_bench_jobs`, uses Redis db 13 as the broker. Goal: under 1 s
from submission to the worker starting the first batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import setup_django, start_worker, stop_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/13").flushdb()
    scratch = setup_django(postgres_db="pleura_bench_jobs", broker="redis://127.0.0.1:6379/13")
    from exchange.phantoms import phantoms_generate
    from modelling.models import JobStatus, TrainingJob
    from modelling.services import training_job_submit

    phantoms_generate(videos=3, frames=16, size=64, annotators=0)
    worker = start_worker(scratch / "worker.log", queues="gpu")
    parameters = {"model": "cnn_sord", "epochs": 1, "size": [64, 64], "batch_size": 8, "activate": False}
    to_start, to_first_batch = [], []
    try:
        for attempt in range(args.jobs + 1):  # the first job warms the worker up (imports, torch)
            submitted = time.time()
            job = training_job_submit(kind="frame_scorer", parameters=parameters,
                                      data_selection={"validation_fraction": 0.0})
            first_batch = None
            while True:
                job.refresh_from_db()
                if first_batch is None and (job.progress or {}).get("step"):
                    first_batch = time.time()
                if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                    break
                time.sleep(0.005)
            if job.status != JobStatus.SUCCEEDED:
                raise SystemExit(f"job failed: {job.error}")
            if attempt:
                to_start.append(job.started_at.timestamp() - submitted)
                to_first_batch.append((first_batch or time.time()) - submitted)
    finally:
        stop_worker(worker)
    print(f"jobs measured                          {len(to_start)} (after one warm-up job)")
    print(f"submission -> worker starts the job    median {statistics.median(to_start) * 1000:.0f} ms, "
          f"max {max(to_start) * 1000:.0f} ms")
    print(f"submission -> first batch reported     median {statistics.median(to_first_batch) * 1000:.0f} ms, "
          f"max {max(to_first_batch) * 1000:.0f} ms (includes loading the frames and the batch itself)")
    print(f"TrainingJob rows                       {TrainingJob.objects.count()}")


if __name__ == "__main__":
    main()
