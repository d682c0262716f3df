"""Hyper-parameter search on the COVID-BLUeS dev folder: does a 20-trial search beat the default recipe's CV kappa?

``search`` (default): a study (:mod:`ml.search`, the embedding recipe's default space, TPE seeded 0, median
pruner on fold reports) of ``--trials`` trials under patient-level 5-fold CV (the folds of
``bench/covid_blues_cv.py``: :func:`ml.training.patient_folds`, seed 0); its first trial is the default
recipe, so the default's CV kappa comes from the same folds and per-fold seeds. Reports the wall time, the
default's and the best trial's kappa, trials pruned. The best trial's CV value is optimistic (it was selected
on these folds), hence:

``nested``: the caveat measured once: outer fold ``--outer`` (20 % of the patients) is held out; the search
runs with inner 4-fold CV on the other 80 %; the best configuration and the default are then trained on that
80 % and measured on the held-out patients (one outer fold: a noisy but unbiased comparison).

Writes ``bench/results/search_cv.json`` (or ``search_cv_nested.json``).

Usage: ``python bench/search_cv.py [search|nested] [--trials 20] [--threads 1] [--max-time-s S]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.embeddings import EmbeddingCache, folder_bags
from ml.metrics.scoring import score_report
from ml.search import SearchSettings, bag_evaluator, default_params, embedding_config, run_search, summarise
from ml.training import bag_predictions, frame_aggregate_probs, patient_folds, train_embedding_model

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path("/work/shared/data/covid-blues-dev")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def on_trial(_study: Any, trial: Any) -> None:
    value = "-" if trial.value is None else f"{trial.value:.4f}"
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0
    log(f"trial {trial.number} {trial.state.name} {value} ({len(trial.intermediate_values)} folds, {seconds:.0f} s) "
        f"{json.dumps(trial.params, default=str)}")


def held_out(params: dict[str, Any], train: list[Any], test: list[Any], seed: int) -> dict[str, Any]:
    """Train one configuration on ``train`` (its own validation split) and report it on ``test``."""
    config, aggregator = embedding_config(params)
    result = train_embedding_model(dataclasses.replace(config, seed=seed), train)
    predictions = bag_predictions(result.model, test)
    probs = np.array([p["probs"] for p in predictions]) if aggregator == "head" else frame_aggregate_probs(predictions)
    report = score_report(np.array([int(b.score) for b in test]), probs)
    return {k: report[k] for k in ("quadratic_kappa", "f1_weighted", "accuracy")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", nargs="?", choices=("search", "nested"), default="search")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--cache", type=Path, default=HERE.parent / "var" / "embeddings")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--max-time-s", type=float)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outer", type=int, default=4, help="nested: the held-out outer fold")
    p.add_argument("--storage", help="RDB URL (default: an SQLite file under var/)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    bags = [b for b in folder_bags(args.data, EmbeddingCache(args.cache)) if b.score is not None]
    study = f"bench-{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    storage = args.storage or f"sqlite:///{HERE.parent / 'var' / 'search_cv.sqlite3'}"
    (HERE.parent / "var").mkdir(exist_ok=True)
    folds = 5
    if args.mode == "nested":
        test_patients = set(patient_folds(bags, folds, 0)[args.outer][1])
        test, bags = [b for b in bags if b.patient in test_patients], [b for b in bags if b.patient not in test_patients]
        folds = 4
    settings = SearchSettings(study=study, storage=storage, trials=args.trials, max_time_s=args.max_time_s,
                              folds=folds, seed=0)
    log(f"{args.mode}: {len(bags)} videos, {len({b.patient for b in bags})} patients, {folds}-fold CV, "
        f"{args.trials} trials, study {study} in {storage}, {args.threads} thread(s), load {os.getloadavg()[0]:.1f}")
    search_started = time.monotonic()
    cpu_started = time.process_time()
    result = run_search(settings, bag_evaluator(bags, folds=folds, seed=0), on_trial=on_trial)
    summary = summarise(result, started=search_started)
    summary["cpu_s"] = round(time.process_time() - cpu_started, 1)
    default = next((t for t in summary["history"] if t["default"]), None)
    report: dict[str, Any] = {
        "mode": args.mode, "dataset": str(args.data), "n_videos": len(bags),
        "n_patients": len({b.patient for b in bags}), "folds": folds, "trials": args.trials,
        "wall_s": summary["wall_s"], "cpu_s": summary["cpu_s"], "counts": summary["counts"],
        "default_cv_kappa": default["value"] if default else None,
        "best_cv_kappa": summary.get("best", {}).get("value"), "best_params": summary.get("best", {}).get("params"),
        "importances": summary["importances"], "importance_method": summary["importance_method"],
        "machine": {"threads": args.threads, "cpus": os.cpu_count(), "load_at_end": os.getloadavg(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "note": "shared 2-core machine, not quiet (other helpers' tests and benchmarks running)"},
        "summary": summary,
    }
    if args.mode == "nested" and "best" in summary:
        report["outer_fold"] = args.outer
        report["outer_test_videos"] = len(test)
        report["held_out"] = {"default": held_out(default_params(), bags, test, 0),
                              "best": held_out(summary["best"]["params"], bags, test, 0)}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "search_cv.json" if args.mode == "search" else "search_cv_nested.json"
    (args.out / name).write_text(json.dumps(report, indent=2, default=str))
    log(f"done in {time.monotonic() - started:.0f} s: default CV kappa {report['default_cv_kappa']}, best "
        f"{report['best_cv_kappa']}, counts {summary['counts']}" +
        (f", held out {report['held_out']}" if "held_out" in report else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
