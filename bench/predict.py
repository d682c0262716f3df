"""End-to-end prediction throughput on the COVID-BLUeS dev videos: read frames, score with the paper's
Reg-STN at 224x224, aggregate, write FramePrediction/VideoPrediction rows.

Usage: .venv/bin/python bench/predict.py [--videos N] [--threads 2] [--postgres]
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

    config = {"model": "reg_stn", "model_kwargs": {}, "size": [224, 224]}
    checkpoint = save_checkpoint(Path(tempfile.mkdtemp()) / "reg_stn.pt", model=create_model("reg_stn"), epoch=0,
                                 config=config)
    scorer = services.model_version_create(kind=ModelKind.FRAME_SCORER, name="reg_stn", weights=checkpoint,
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
    written = scoring.frame_scorer_predict(scorer, video_ids)
    total = time.perf_counter() - started
    assert written == frames == FramePrediction.objects.filter(model_version=scorer).count()
    assert VideoPrediction.objects.filter(model_version=scorer).count() == len(video_ids)
    from django.conf import settings

    print(f"database             {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"torch threads        {args.threads}")
    print(f"videos               {len(video_ids)}")
    print(f"frames               {frames}")
    print(f"total time           {total:.1f} s")
    print(f"frames/s             {frames / total:.1f}")
    print(f"database writes      {db_seconds:.2f} s ({100 * db_seconds / total:.1f} % of the total)")


if __name__ == "__main__":
    main()
