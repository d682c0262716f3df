"""Throughput of one scoring job (every video, one active model) with 1 vs 2 scoring workers sharing its
chunks (PLEURA_SCORING_CHUNK_VIDEOS), on PostgreSQL and Redis; folder storage, worker start excluded.

Phantoms and a cnn_sord frame scorer by default; with --dev, the COVID-BLUeS dev folder (its first --videos
videos; 0 = all 237) scored by the default embedding recipe (EmbeddingTrainConfig(): efficientnet_lite0 ImageNet
embeddings every 4th frame at 224 px, an untrained linear probe head: the embeddings dominate the cost). The
embedding files are deleted before each run, so both runs compute every embedding.

`python bench/scoring_workers.py --videos 24 --frames 16 --broker redis://127.0.0.1:6379/3`
`python bench/scoring_workers.py --dev --videos 40 --chunk 4 --broker redis://127.0.0.1:6379/3`"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import DEV_DATA, setup_django, start_worker, stop_worker


def phantom_version(args: argparse.Namespace) -> tuple[str, str]:
    """Phantom videos and an active cnn_sord frame scorer; (model kind, description)."""
    from exchange.phantoms import phantoms_generate
    from ml.checkpoint import save_checkpoint
    from ml.models import create_model
    from modelling.models import ModelKind
    from modelling.services import model_version_activate, model_version_create
    from studies.models import Frame

    phantoms_generate(videos=args.videos, frames=args.frames, size=args.size, annotators=0, seed=1)
    weights = save_checkpoint(Path(tempfile.mkdtemp()) / "v.pt", model=create_model("cnn_sord"), epoch=1,
                              config={"model": "cnn_sord", "model_kwargs": {}, "size": [64, 64]})
    version = model_version_create(kind=ModelKind.FRAME_SCORER, name="cnn_sord", weights=weights, config={},
                                   metrics={}, data_snapshot={})
    model_version_activate(version=version)
    return ModelKind.FRAME_SCORER, (f"{args.videos} phantom videos x {args.frames} frames ({Frame.objects.count()} "
                                    f"frames, {args.size} px), chunks of {args.chunk} videos, cnn_sord at 64 px")


def dev_version(args: argparse.Namespace) -> tuple[str, str]:
    """Dev videos (imported as `manage.py import_dataset` does) and an active embedding scorer, random head."""
    from exchange.covid_blues import covid_blues_import
    from ml.checkpoint import save_checkpoint
    from ml.models import create_model
    from ml.training import EmbeddingTrainConfig
    from modelling.models import ModelKind
    from modelling.services import model_version_activate, model_version_create
    from studies.models import Frame, Video

    root = DEV_DATA
    if args.videos:
        root = Path(tempfile.mkdtemp(prefix="pleura-bench-dev-"))
        (root / "lus_videos").mkdir()
        for csv in DEV_DATA.glob("*.csv"):
            (root / csv.name).symlink_to(csv)
        for video in sorted((DEV_DATA / "lus_videos").glob("*.mp4"))[:args.videos]:
            (root / "lus_videos" / video.name).symlink_to(video)
    covid_blues_import(root=root)
    recipe = EmbeddingTrainConfig()
    kwargs = {"in_features": 1280, "findings": list(recipe.findings)}
    config = {**recipe.to_dict(), "model_kwargs": kwargs}
    weights = save_checkpoint(Path(tempfile.mkdtemp()) / "v.pt", model=create_model(recipe.model, **kwargs), epoch=0,
                              config=config)
    version = model_version_create(kind=ModelKind.EMBEDDING, name=recipe.model, weights=weights, config=config,
                                   metrics={}, data_snapshot={})
    model_version_activate(version=version)
    return ModelKind.EMBEDDING, (f"{Video.objects.count()} COVID-BLUeS dev videos ({Frame.objects.count()} frames), "
                                 f"chunks of {args.chunk} videos, default embedding recipe ({recipe.encoder} "
                                 f"{recipe.pretrained} at {recipe.size} px, every {recipe.frame_step}th frame, "
                                 f"untrained {recipe.model} head)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", action="store_true", help="COVID-BLUeS dev videos and the embedding recipe")
    parser.add_argument("--videos", type=int, default=24, help="phantom videos; with --dev the first N (0: all)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--db", default="pleura_bench_scoring_workers", help="PostgreSQL database (re-created)")
    args = parser.parse_args()
    os.environ.update(DJANGO_SETTINGS_MODULE="pleura.settings.local", OMP_NUM_THREADS="1",
                      PLEURA_SCORING_CHUNK_VIDEOS=str(args.chunk))
    scratch = setup_django(postgres_db=args.db, broker=args.broker)
    import redis
    from django.db import connections

    from core.media_cache import local_folder
    from modelling.models import FramePrediction, JobStatus, TrainingJob, VideoPrediction
    from modelling.services import scoring_job_queue
    from studies.models import Frame

    redis.Redis.from_url(args.broker).flushdb()
    kind, description = dev_version(args) if args.dev else phantom_version(args)
    frames = Frame.objects.count()
    lines = [f"{description}, OMP_NUM_THREADS=1 per worker"]
    for count in (1, 2):
        FramePrediction.objects.all().delete()
        VideoPrediction.objects.all().delete()
        shutil.rmtree(local_folder("embeddings"), ignore_errors=True)
        workers = [start_worker(scratch / f"w{count}-{i}.log", queues="scoring") for i in range(count)]
        try:
            for i in range(count):
                log = scratch / f"w{count}-{i}.log"
                while "ready." not in log.read_text(errors="replace"):
                    time.sleep(0.2)
            start = time.perf_counter()
            job = scoring_job_queue(kinds=[kind])
            while TrainingJob.objects.get(pk=job.pk).status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                time.sleep(0.2)
            seconds = time.perf_counter() - start
            job.refresh_from_db()
            assert job.status == JobStatus.SUCCEEDED, job.error
            scored = FramePrediction.objects.count()
            assert scored == frames or args.dev, (scored, frames)
            embedded = f" ({scored} embedded frames, {scored / seconds:5.1f}/s)" if args.dev else ""
            lines.append(f"  {count} worker(s): {seconds:6.1f} s, {frames / seconds:6.1f} video frames/s{embedded}, "
                         f"chunks per worker {sorted(job.progress['workers'].values())}")
        finally:
            for worker in workers:
                stop_worker(worker)
    print("\n".join(lines))
    if args.dev:  # a throwaway database: the dev videos' frames are not kept
        connections.close_all()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.db], check=True)


if __name__ == "__main__":
    main()
