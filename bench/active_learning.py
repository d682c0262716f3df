"""Active learning, simulated: does choosing what to label by uncertainty (+ diversity) need fewer labels?

Two pools, the labels as the oracle (an item's labels are revealed when it is "annotated"):

* ``dev``: the COVID-BLUeS dev folder's videos (severity score and A-/B-lines findings). Model: the embedding
  recipe's default head (``embedding_probe``: class-balanced SORD + findings heads, L-BFGS, l2 0.25, calibration
  on inner validation patients) on the cached frozen EfficientNet-Lite0 embeddings (``var/embeddings``, the
  cache of ``bench/covid_blues_cv.py``). For speed each video enters as a two-row bag ``mean +- std`` of its
  frame embeddings: the probe's mean/std pooling gives exactly the video's pooled features (only the input
  standardisation, fitted over rows, differs slightly from the recipe's over frames).
* ``phantom``: frames of synthetic clips (:mod:`ml.phantom`, exact frame scores), each frame a one-row bag of
  its embedding, each clip a "patient"; frame scores are the labels (masks not simulated).

Per seed (3): test patients (20 %, stratified by worst score) held out; a random start of ``--start`` items,
then batches of ``--batch`` chosen from the unlabelled pool by

* ``random``;
* ``uncertainty``: :func:`ml.active.combine` of normalised entropy and margin of the model's calibrated
  probabilities (the documented weights), highest first;
* ``uncertainty_diversity``: the same score, the batch chosen by :func:`ml.active.rank` (k-means over the
  3 x batch most uncertain candidates' standardised, PCA-32 embeddings, each cluster's most uncertain item);

until the pool is used up. After each batch the head is retrained and video (frame) weighted F1 and quadratic
kappa are measured on the test patients. Writes ``bench/results/active_learning.json`` and ``.png``, and
states whether uncertainty+diversity reaches random selection's final kappa (all pool labels) with <= 60 %
of the labels (the mean curve over seeds).

Usage: ``python bench/active_learning.py [--threads 1] [--seeds 3] [--pools dev,phantom]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.active import combine, entropy, margin, rank
from ml.data.splits import patient_max_scores, patient_train_test_split
from ml.embeddings import EmbeddingCache, EmbeddingSpec, FrameEmbedder, VideoBag, folder_bags
from ml.metrics.scoring import score_report
from ml.phantom import generate_phantom_video
from ml.training import EmbeddingTrainConfig, bag_predictions, train_embedding_model

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path("/work/shared/data/covid-blues-dev")
STRATEGIES = ("random", "uncertainty", "uncertainty_diversity")
GOAL_FRACTION = 0.6


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Pool:
    """Items to label: a bag each, its patient, a diversity embedding."""

    name: str
    bags: list[VideoBag]
    features: np.ndarray


def summary_bag(bag: VideoBag) -> VideoBag:
    x = np.asarray(bag.embeddings, dtype=np.float32)
    m, s = x.mean(0), x.std(0)
    return VideoBag(bag.video, bag.patient, np.stack([m + s, m - s]), np.arange(2), bag.score, dict(bag.findings))


def pca(x: np.ndarray, dims: int = 32) -> np.ndarray:
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    return z @ vt[:dims].T


def dev_pool(data: Path, cache: Path) -> Pool:
    bags = [b for b in folder_bags(data, EmbeddingCache(cache)) if b.score is not None]
    return Pool("dev", [summary_bag(b) for b in bags],
                pca(np.stack([np.asarray(b.embeddings, dtype=np.float32).mean(0) for b in bags])))


def phantom_pool(cache: Path, clips: int = 30, frames: int = 48, step: int = 4) -> Pool:
    """Frames of ``clips`` phantom clips (every ``step``-th of ``frames``), embedded once and cached."""
    spec, store = EmbeddingSpec(), EmbeddingCache(cache)
    embedder: FrameEmbedder | None = None
    bags = []
    for clip in range(clips):
        video = generate_phantom_video(seed=1000 + clip, n_frames=frames, height=224, width=224)

        def compute(video: Any = video) -> tuple[np.ndarray, np.ndarray]:
            nonlocal embedder
            embedder = embedder or FrameEmbedder(spec)
            keep = np.arange(0, frames, step)
            return keep.astype(np.int32), embedder.embed(video.frames[keep])

        index, vectors = store.get(spec, content_id=f"phantom-v1-{1000 + clip}-{frames}-224", frame_step=step,
                                   compute=compute)
        for i, f in enumerate(index):
            bags.append(VideoBag(f"clip{clip}_f{int(f)}", f"clip{clip}", vectors[i:i + 1], np.array([int(f)]),
                                 int(video.scores[int(f)])))
    return Pool("phantom", bags, pca(np.concatenate([np.asarray(b.embeddings, dtype=np.float32) for b in bags])))


def fit(train: list[VideoBag], seed: int) -> Any:
    config = EmbeddingTrainConfig(seed=seed, findings=("a_lines", "b_lines"))
    try:
        return train_embedding_model(config, train).model
    except ValueError:  # too few patients for the inner validation split: calibrate on the training set
        return train_embedding_model(config, train, val_bags=train).model


def evaluate(model: Any, test: list[VideoBag]) -> dict[str, float]:
    probs = np.array([p["probs"] for p in bag_predictions(model, test)])
    report = score_report(np.array([int(b.score) for b in test]), probs)  # type: ignore[arg-type]
    return {"kappa": round(float(report["quadratic_kappa"]), 4), "f1": round(float(report["f1_weighted"]), 4)}


def choose(strategy: str, model: Any, pool: Pool, unlabelled: np.ndarray, batch: int, rng: np.random.Generator,
           seed: int) -> np.ndarray:
    if strategy == "random" or len(unlabelled) <= batch:
        return rng.permutation(unlabelled)[:batch]
    probs = np.array([p["probs"] for p in bag_predictions(model, [pool.bags[i] for i in unlabelled])])
    score = combine({"entropy": entropy(probs), "margin": margin(probs)})
    if strategy == "uncertainty":
        return unlabelled[np.argsort(-score, kind="stable")[:batch]]
    order = rank(score, embeddings=pool.features[unlabelled], k=batch, pool=3, seed=seed)
    return unlabelled[order[:batch]]


def simulate(pool: Pool, strategy: str, seed: int, start: int, batch: int) -> dict[str, Any]:
    patients = sorted({b.patient for b in pool.bags})
    worst = patient_max_scores([b.patient for b in pool.bags], [int(b.score) for b in pool.bags])  # type: ignore[arg-type]
    _, test_patients = patient_train_test_split(patients, 0.2, seed, labels=[worst[p] for p in patients])
    held = set(test_patients)
    test = [b for b in pool.bags if b.patient in held]
    candidates = np.array([i for i, b in enumerate(pool.bags) if b.patient not in held])
    rng = np.random.default_rng(seed)
    labelled = list(rng.permutation(candidates)[:start])
    curve = []
    while True:
        model = fit([pool.bags[i] for i in labelled], seed)
        curve.append({"labels": len(labelled), **evaluate(model, test)})
        unlabelled = np.setdiff1d(candidates, labelled)
        if not len(unlabelled):
            break
        labelled += [int(i) for i in choose(strategy, model, pool, unlabelled, batch, rng, seed)]
    return {"pool": len(candidates), "test_items": len(test), "test_patients": sorted(held), "curve": curve}


def curves(runs: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (R,), values (seeds, R))``: the rounds every seed has (pools differ by a few items with the
    held-out patients), then each seed's final point (all its pool labelled) at the mean pool size."""
    n = min(len(r["curve"]) for r in runs)
    values = np.array([[p[key] for p in r["curve"][:n - 1]] + [r["curve"][-1][key]] for r in runs])
    labels = [p["labels"] for p in runs[0]["curve"][:n - 1]] + [round(np.mean([r["curve"][-1]["labels"] for r in runs]))]
    return np.array(labels), values


def mean_curve(runs: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    labels, values = curves(runs, key)
    return labels, values.mean(0)


def goal(results: dict[str, list[dict[str, Any]]], tolerance: float = 0.0) -> dict[str, Any]:
    """Labels uncertainty+diversity needs to reach random's final kappa (mean curves over seeds), less
    ``tolerance`` (0: the goal as stated; the curves are noisy near their plateau, so 0.02 is reported too)."""
    labels, random_curve = mean_curve(results["random"], "kappa")
    _, ud_curve = mean_curve(results["uncertainty_diversity"], "kappa")
    target = float(random_curve[-1])
    reached = [int(n) for n, v in zip(labels, ud_curve, strict=True) if v >= target - tolerance - 1e-9]
    needed = reached[0] if reached else None
    pool = int(np.mean([r["pool"] for r in results["random"]]))
    fraction = needed / pool if needed is not None else None
    return {"random_final_kappa": round(target, 4), "tolerance": tolerance, "labels_needed": needed, "pool": pool,
            "fraction": None if fraction is None else round(fraction, 3),
            "met": fraction is not None and fraction <= GOAL_FRACTION, "goal_fraction": GOAL_FRACTION}


def goals(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The goal as stated, and within 0.02 of random's final kappa; mean kappa of each strategy per labels."""
    labels = [int(n) for n in mean_curve(runs["random"], "kappa")[0]]
    kappas = {s: [round(float(v), 4) for v in mean_curve(r, "kappa")[1]] for s, r in runs.items()}
    return {"goal": goal(runs), "goal_within_0.02": goal(runs, 0.02),
            "mean_kappa": {"labels": labels, **kappas},
            "mean_f1": {"labels": labels, **{s: [round(float(v), 4) for v in mean_curve(r, "f1")[1]]
                                             for s, r in runs.items()}}}


def plot(path: Path, report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pools = list(report["pools"])
    fig, axes = plt.subplots(len(pools), 2, figsize=(10, 3.6 * len(pools)), squeeze=False)
    for row, name in enumerate(pools):
        for col, key in enumerate(("kappa", "f1")):
            axis = axes[row][col]
            for strategy, runs in report["pools"][name]["runs"].items():
                labels, values = curves(runs, key)
                axis.plot(labels, values.mean(0), label=strategy)
                axis.fill_between(labels, values.min(0), values.max(0), alpha=0.15)
            axis.set_title(f"{name}: {'quadratic kappa' if key == 'kappa' else 'weighted F1'} (test patients)")
            axis.set_xlabel("labels")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--cache", type=Path, default=HERE.parent / "var" / "embeddings")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pools", default="dev,phantom")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--replot", action="store_true", help="recompute goals and the plot from the saved JSON")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.replot:
        saved = json.loads((args.out / "active_learning.json").read_text())
        for name, entry in saved["pools"].items():
            entry.update(goals(entry["runs"]))
            log(f"{name} goal: {entry['goal']}; within 0.02: {entry['goal_within_0.02']}")
        (args.out / "active_learning.json").write_text(json.dumps(saved, indent=1))
        plot(args.out / "active_learning.png", saved)
        return 0
    started = time.monotonic()
    report: dict[str, Any] = {"strategies": list(STRATEGIES), "seeds": args.seeds, "pools": {},
                              "machine": {"threads": args.threads, "load_at_start": os.getloadavg(),
                                          "note": "shared 2-core machine, not quiet"}}
    settings = {"dev": (10, 10), "phantom": (16, 24)}
    for name in args.pools.split(","):
        pool = dev_pool(args.data, args.cache) if name == "dev" else phantom_pool(args.cache)
        start, batch = settings[name]
        log(f"{name}: {len(pool.bags)} items, {len({b.patient for b in pool.bags})} patients; start {start}, batch {batch}")
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in STRATEGIES}
        for seed in range(args.seeds):
            for strategy in STRATEGIES:
                run = simulate(pool, strategy, seed, start, batch)
                runs[strategy].append(run)
                half = run["curve"][len(run["curve"]) // 2]
                log(f"{name} seed {seed} {strategy}: kappa at {half['labels']} labels {half['kappa']:.3f}, "
                    f"final {run['curve'][-1]['kappa']:.3f}")
        report["pools"][name] = {"items": len(pool.bags), "start": start, "batch": batch, "runs": runs, **goals(runs)}
        log(f"{name} goal: {report['pools'][name]['goal']}; within 0.02: {report['pools'][name]['goal_within_0.02']}")
    report["seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "active_learning.json"
    if path.is_file():  # pools run by separate processes (--pools dev / --pools phantom) end up in one file
        saved = json.loads(path.read_text())
        report["pools"] = {**{k: v for k, v in saved.get("pools", {}).items() if k not in report["pools"]},
                           **report["pools"]}
    path.write_text(json.dumps(report, indent=1))
    plot(args.out / "active_learning.png", report)
    log(f"done in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
