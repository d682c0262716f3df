"""Command line of the hyper-parameter search over the embedding recipe on a COVID-BLUeS folder::

    python -m ml.search --data DIR [--storage URL] [--study NAME] [--trials 20] [--max-time-s S]
        [--objective kappa|f1] [--folds 5] [--seed 0] [--worker 0] [--threads 1] [--space SPACE.json]
        [--cache var/embeddings] [--out summary.json] [--retries 0] [--heartbeat-s 10]

``DIR`` holds ``lus_videos/*.mp4`` and ``severity.csv`` (the layout :mod:`ml.manifest` reads); frames are
embedded once into ``--cache``. ``--storage`` is an SQLAlchemy URL (``sqlite:///search.sqlite3``,
``postgresql+psycopg://user@host/db``; ``postgres://`` gets the psycopg driver); without it the study is in
memory. Start the same command in several processes (``--worker 1``, ``2``, ...: each seeds its sampler
differently) to run trials of one study at once. Prints a line per trial and the best configuration, and
writes the JSON summary (history, best, importances) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ml.utils import run_cli

from .objective import OBJECTIVES, bag_evaluator
from .space import EMBEDDING_SPACE, space_from_dicts
from .study import SearchSettings, run_search, summarise

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.search", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder in the COVID-BLUeS layout")
    p.add_argument("--storage", help="RDB URL of the study (sqlite:///FILE or postgresql+psycopg://...)")
    p.add_argument("--study", default="embedding-search")
    p.add_argument("--trials", type=int, default=20, help="finished trials of the study (all processes)")
    p.add_argument("--max-time-s", type=float, help="this process starts no trial after this many seconds")
    p.add_argument("--objective", choices=sorted(OBJECTIVES), default="kappa")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", type=int, default=0, help="this process's index (seeds its sampler)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--space", type=Path, help="JSON list of parameters (default: the embedding recipe's space)")
    p.add_argument("--cache", type=Path, default=Path("var/embeddings"), help="frame-embedding cache folder")
    p.add_argument("--out", type=Path, help="write the JSON summary here")
    p.add_argument("--retries", type=int, default=0, help="re-queue a dead process's trial this many times")
    p.add_argument("--heartbeat-s", type=int, default=10)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        import torch

        from ml.embeddings import EmbeddingCache, folder_bags

        torch.set_num_threads(args.threads)
        started = time.monotonic()
        space = space_from_dicts(json.loads(args.space.read_text())) if args.space else EMBEDDING_SPACE
        settings = SearchSettings(study=args.study, storage=args.storage, trials=args.trials,
                                  max_time_s=args.max_time_s, objective=args.objective, folds=args.folds,
                                  seed=args.seed, worker=args.worker, retries=args.retries,
                                  heartbeat_s=args.heartbeat_s, space=space)
        if not (args.data / "severity.csv").is_file():
            raise FileNotFoundError(f"{args.data} has no severity.csv (COVID-BLUeS layout expected)")
        bags = folder_bags(args.data, EmbeddingCache(args.cache))
        evaluate = bag_evaluator(bags, folds=args.folds, objective=args.objective, seed=args.seed)
        print(f"{len(bags)} videos embedded in {time.monotonic() - started:.0f} s; study {args.study!r}, "
              f"objective {args.objective}, {args.trials} trials", flush=True)

        def on_trial(_study: Any, trial: Any) -> None:
            value = "-" if trial.value is None else f"{trial.value:.4f}"
            steps = len(trial.intermediate_values)
            seconds = ((trial.datetime_complete - trial.datetime_start).total_seconds()
                       if trial.datetime_complete and trial.datetime_start else 0.0)
            print(f"trial {trial.number}: {trial.state.name} {value} after {steps} folds, {seconds:.0f} s "
                  f"{json.dumps(trial.params, default=str)}", flush=True)

        study = run_search(settings, evaluate, on_trial=on_trial)
        summary = summarise(study, started=started)
        best = summary.get("best")
        if best:
            print(f"best: trial {best['number']} {args.objective} {best['value']:.4f} "
                  f"{json.dumps(best['params'], default=str)}")
        print("importances (" + summary["importance_method"] + "): "
              + ", ".join(f"{k} {v:.2f}" for k, v in summary["importances"].items()))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(summary, indent=2, default=str))
        return 0

    return run_cli("python -m ml.search", run)


if __name__ == "__main__":
    sys.exit(main())
