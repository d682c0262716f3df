"""Throughput of one scoring job (every video, one frame scorer) with 1 vs 2 scoring workers sharing its
chunks (PLEURA_SCORING_CHUNK_VIDEOS), on PostgreSQL and Redis; folder storage, worker start excluded.

`python bench/scoring_workers.py --videos 24 --frames 16 --broker redis://127.0.0.1:6379/3`"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import setup_django, start_worker, stop_worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()
    os.environ.update(DJANGO_SETTINGS_MODULE="pleura.settings.local", OMP_NUM_THREADS="1",
                      PLEURA_SCORING_CHUNK_VIDEOS=str(args.chunk))
    scratch = setup_django(postgres_db="pleura_bench_scoring_workers", broker=args.broker)
    import redis

    from exchange.phantoms import phantoms_generate
    from ml.checkpoint import save_checkpoint
    from ml.models import create_model
    from modelling.models import FramePrediction, JobStatus, ModelKind, TrainingJob
    from modelling.services import model_version_create, scoring_job_queue
    from studies.models import Frame

    redis.Redis.from_url(args.broker).flushdb()
    phantoms_generate(videos=args.videos, frames=args.frames, size=args.size, annotators=0, seed=1)
    weights = save_checkpoint(Path(tempfile.mkdtemp()) / "v.pt", model=create_model("cnn_sord"), epoch=1,
                              config={"model": "cnn_sord", "model_kwargs": {}, "size": [64, 64]})
    version = model_version_create(kind=ModelKind.FRAME_SCORER, name="cnn_sord", weights=weights, config={},
                                   metrics={}, data_snapshot={})
    type(version).objects.filter(pk=version.pk).update(is_active=True)
    frames = Frame.objects.count()
    lines = [f"{args.videos} phantom videos x {args.frames} frames ({frames} frames, {args.size} px), chunks of "
             f"{args.chunk} videos, cnn_sord at 64 px, OMP_NUM_THREADS=1 per worker"]
    for count in (1, 2):
        FramePrediction.objects.all().delete()
        workers = [start_worker(scratch / f"w{count}-{i}.log", queues="scoring") for i in range(count)]
        try:
            for i in range(count):
                log = scratch / f"w{count}-{i}.log"
                while "ready." not in log.read_text(errors="replace"):
                    time.sleep(0.2)
            start = time.perf_counter()
            job = scoring_job_queue(kinds=[ModelKind.FRAME_SCORER])
            while TrainingJob.objects.get(pk=job.pk).status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                time.sleep(0.1)
            seconds = time.perf_counter() - start
            job.refresh_from_db()
            assert job.status == JobStatus.SUCCEEDED, job.error
            assert FramePrediction.objects.count() == frames
            lines.append(f"  {count} worker(s): {seconds:6.1f} s, {frames / seconds:6.1f} frames/s, "
                         f"chunks per worker {sorted(job.progress['workers'].values())}")
        finally:
            for worker in workers:
                stop_worker(worker)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
