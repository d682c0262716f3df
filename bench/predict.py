"""End-to-end prediction throughput on the COVID-BLUeS dev videos: read frames, score them, write
FramePrediction/VideoPrediction rows. The default recipe (``--kind embedding``) embeds every 4th frame
with the pretrained encoder at 224x224 (cold cache) and scores the video; ``--kind frame_scorer`` runs
the paper's Reg-STN on every frame and aggregates. frames/s counts the video's frames scored.

Usage: .venv/bin/python bench/predict.py [--videos N] [--threads 2] [--postgres] [--kind embedding|frame_scorer]
Imports the videos into a fresh database first (not timed). Goal: >= 40 frames/s on 2 cores with the
database writes under 10 % of the total. Weights are random: throughput does not depend on them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import DEV_DATA, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=0, help="limit to the first N videos (0: all 237)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL database pleura_bench_predict")
    parser.add_argument("--kind", choices=("frame_scorer", "embedding"), default="embedding",
                        help="embedding: the default recipe (every 4th frame embedded at 224 px, cache cold); "
                             "frame_scorer: Reg-STN on every frame at 224 px")
    args = parser.parse_args()
    setup_django(postgres_db="pleura_bench_predict" if args.postgres else None)
    import torch

    torch.set_num_threads(args.threads)
    import modelling.scoring as scoring
    import modelling.services as services
    from exchange.covid_blues import covid_blues_import
    from ml.checkpoint import save_checkpoint
    from ml.models import create_model
    from modelling.models import FramePrediction, ModelKind, VideoPrediction
    from studies.models import Frame, Video

    started = time.perf_counter()
    covid_blues_import(root=DEV_DATA)
    print(f"import (not timed)   {time.perf_counter() - started:.1f} s")
    video_ids = list(Video.objects.order_by("id").values_list("id", flat=True))
    if args.videos:
        video_ids = video_ids[: args.videos]
    frames = Frame.objects.filter(video_id__in=video_ids).count()

    if args.kind == "embedding":
        from ml.training import EmbeddingTrainConfig

        recipe = EmbeddingTrainConfig()
        kwargs = {"in_features": 1280, "findings": list(recipe.findings)}
        config = {**recipe.to_dict(), "model_kwargs": kwargs}
        model, kind, run = create_model(recipe.model, **kwargs), ModelKind.EMBEDDING, scoring.embedding_predict
    else:
        config = {"model": "reg_stn", "model_kwargs": {}, "size": [224, 224]}
        model, kind, run = create_model("reg_stn"), ModelKind.FRAME_SCORER, scoring.frame_scorer_predict
    checkpoint = save_checkpoint(Path(tempfile.mkdtemp()) / "model.pt", model=model, epoch=0, config=config)
    scorer = services.model_version_create(kind=kind, name=str(config["model"]), weights=checkpoint,
                                           config=config, metrics={}, data_snapshot={})
    services.model_version_activate(version=scorer)

    db_seconds = 0.0
    replace = services.predictions_replace

    def timed_replace(**kwargs):  # type: ignore[no-untyped-def]
        nonlocal db_seconds
        begun = time.perf_counter()
        try:
            return replace(**kwargs)
        finally:
            db_seconds += time.perf_counter() - begun

    scoring.predictions_replace = timed_replace
    started = time.perf_counter()
    written = run(scorer, video_ids)
    total = time.perf_counter() - started
    scored = FramePrediction.objects.filter(model_version=scorer).count()
    assert written >= scored > 0
    assert VideoPrediction.objects.filter(model_version=scorer).count() == len(video_ids)
    from django.conf import settings

    print(f"database             {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"torch threads        {args.threads}")
    print(f"videos               {len(video_ids)}")
    print(f"model                {args.kind}")
    print(f"frames               {frames} ({scored} with a frame prediction)")
    print(f"total time           {total:.1f} s")
    print(f"frames/s             {frames / total:.1f}")
    print(f"database writes      {db_seconds:.2f} s ({100 * db_seconds / total:.1f} % of the total)")


if __name__ == "__main__":
    main()
