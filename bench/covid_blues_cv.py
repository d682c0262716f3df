"""Every video-scoring method under one patient-level 5-fold protocol on COVID-BLUeS: one table, one plot.

Data: a folder in the COVID-BLUeS layout (default the dev folder, read-only, never copied):
``lus_videos/patient_<ID>_<POINT>[_2].mp4`` and ``severity.csv`` (Severity Score 0-3, A-lines, B-lines).

Protocol (fixed in advance; nothing here is tuned on the folder, whose other patients are a held-out set):
folds from :func:`ml.data.patient_kfold` (k=5, seed 0, stratified by each patient's worst score), the same
folds as ``bench/regstn_cv.py`` and ``bench/sequence_cv.py``. Methods:

* ``majority``: the training fold's most frequent score;
* ``probe``: the recommended recipe, :class:`ml.training.EmbeddingTrainConfig` defaults: ImageNet
  EfficientNet-Lite0 (offline weights) embeds every 4th frame at 224 px once (cached), mean/std pooled,
  linear severity + findings heads by L-BFGS (l2 0.25), inner validation patients (20 %) for the
  calibration temperature;
* ``attention_mil``: gated attention pooling of the same embeddings, same fitting;
* ``probe_argmax_mean`` / ``probe_uninorm``: the probe's per-frame probabilities aggregated by the mean
  (argmax_mean) or by the paper's uninorm, fitted on inner out-of-fold frame probabilities of every training
  patient (``EmbeddingTrainConfig.uninorm_folds`` = 5: inner patient-level CV inside the training fold);
* ``lite0_lstm``: the CNN-LSTM with the frozen ImageNet EfficientNet-Lite0 trunk (``ml.models`` registry); the
  frozen trunk's features are the cached embeddings, so its LSTM and head train on windows of them
  (``XceptionLSTM.forward_features``, the same function as on frames): ``SequenceTrainConfig`` defaults
  (windows of 20 sampled frames, stride 10, 10 epochs, batch 8, AdamW lr 1e-3 cosine, weight decay 1e-4,
  class-balanced windows, gradient clip 5); a video's probabilities are the mean of its windows' softmax
  (windows of 20, stride 10); no calibration, no findings heads;
* ``probe_finetuneN`` (``--finetune-blocks N --max-time-s S``, off by default): the probe warm-started, then
  the encoder's last N stages fine-tuned with it on cached front feature maps within S seconds per fold
  (:mod:`ml.training.finetune`);
* ``reg_stn`` (+ uninorm / max_argmax / argmax_mean) and ``xception_lstm`` / ``densenet_lstm``: the
  scratch models, run by their own benchmarks (``--baselines`` reruns them, about 21 min on 1 thread);
  their F1 and accuracy come from ``bench/results/regstn_cv.json`` and ``sequence_cv.json``.

Metrics per fold (mean +- std): video weighted and macro F1, quadratic kappa, per-class recall (pooled),
ECE, A-lines and B-lines AUC. Writes ``<out>/covid_blues_cv.json`` and ``.png`` and prints the table.

``--train DIR --test DIR --out FILE`` trains every embedding method and the majority baseline on one
folder and writes the same metrics, measured on the other, to FILE (no CV).

Usage: ``python bench/covid_blues_cv.py [--threads 2] [--data DIR] [--cache DIR] [--baselines]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.data import patient_kfold, patient_max_scores
from ml.embeddings import EmbeddingCache, EmbeddingSpec, VideoBag, folder_bags
from ml.metrics.scoring import score_report
from ml.models import create_model
from ml.training import (
    EmbeddingTrainConfig,
    SequenceTrainConfig,
    bag_predictions,
    finding_truth,
    frame_aggregate_probs,
    train_embedding_model,
)
from ml.training.finetune import FrontEmbedder, finetune_embedding_model, finetuned_predictions

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path("/work/shared/data/covid-blues-dev")
EMBEDDING_METHODS: dict[str, dict[str, Any]] = {
    "probe": {"uninorm_folds": 5},
    "attention_mil": {"model": "attention_mil", "model_kwargs": {"hidden": 0}},
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_bags(folder: Path, spec: EmbeddingSpec, frame_step: int, cache: EmbeddingCache) -> list[VideoBag]:
    """Every labelled video of a COVID-BLUeS folder as embedded frames (computed once, then cached)."""
    def progress(done: int, total: int) -> None:
        if done % 40 == 0 or done == total:
            log(f"embedded {done}/{total} videos")

    return folder_bags(folder, cache, spec=spec, frame_step=frame_step, progress=progress)


def _windows(bag: VideoBag, window: int, stride: int) -> torch.Tensor:
    """``(W, window, D)`` windows of a bag's embeddings; a shorter video repeats its last frame."""
    x = torch.from_numpy(np.asarray(bag.embeddings, dtype=np.float32))
    if len(x) < window:
        x = torch.cat([x, x[-1:].expand(window - len(x), -1)])
    starts = list(range(0, len(x) - window + 1, stride))
    if starts[-1] != len(x) - window:
        starts.append(len(x) - window)
    return torch.stack([x[s:s + window] for s in starts])


def train_lite0_lstm(train: list[VideoBag], seed: int) -> Any:
    """``lite0_lstm`` with its frozen trunk's features taken from the cache (see the module docstring)."""
    config = SequenceTrainConfig(model="lite0_lstm", seed=seed, device="cpu")
    torch.manual_seed(seed)
    model: Any = create_model("lite0_lstm", pretrained=None)  # the trunk never runs: its features are cached
    windows = [_windows(b, config.window, config.stride) for b in train]
    x = torch.cat(windows)
    y = torch.cat([torch.full((len(w),), int(b.score), dtype=torch.long)  # type: ignore[arg-type]
                   for w, b in zip(windows, train, strict=True)])
    counts = torch.bincount(y, minlength=4).clamp_min(1).float()
    params = [p for name, p in model.named_parameters() if not name.startswith("trunk.")]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(x) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(config.epochs):
        order = torch.multinomial((1.0 / counts)[y], len(x), replacement=True, generator=generator)
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss = torch.nn.functional.cross_entropy(model.forward_features(x[batch]).logits, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip or float("inf"))
            optimizer.step()
            scheduler.step()
    return model.eval()


@torch.no_grad()
def lite0_lstm_probs(model: Any, bags: list[VideoBag], window: int = 20, stride: int = 10) -> np.ndarray:
    """Each video's mean window softmax."""
    return np.array([model.forward_features(_windows(b, window, stride)).probs().mean(0).numpy() for b in bags])


def evaluate_fold(train: list[VideoBag], test: list[VideoBag], seed: int, *, methods: set[str] | None = None,
                  maps: dict[str, VideoBag] | None = None, finetune: tuple[int, float] = (0, 0.0)
                  ) -> dict[str, dict[str, Any]]:
    """Every embedding method (and the majority) trained on `train`, reported on `test` (`methods`: only those;
    `finetune` (stages, seconds) with `maps`, the front maps of every video, adds the fine-tuned probe)."""
    truth = np.array([b.score for b in test])
    out: dict[str, dict[str, Any]] = {}
    majority = np.bincount([int(b.score) for b in train], minlength=4).argmax()  # type: ignore[arg-type]
    out["majority"] = score_report(truth, np.eye(4)[[majority] * len(test)])
    for method, overrides in EMBEDDING_METHODS.items():
        if methods is not None and method not in methods:
            continue
        config = EmbeddingTrainConfig(**{**overrides, "seed": seed})
        result = train_embedding_model(config, train)
        predictions = bag_predictions(result.model, test)
        out[method] = score_report(truth, np.array([p["probs"] for p in predictions]),
                                   findings=finding_truth(test, predictions, config.findings))
        if result.uninorm is not None:
            out[f"{method}_argmax_mean"] = score_report(truth, frame_aggregate_probs(predictions))
            out[f"{method}_uninorm"] = score_report(truth, frame_aggregate_probs(predictions, result.uninorm))
    if methods is None or "lite0_lstm" in methods:
        started = time.monotonic()
        out["lite0_lstm"] = score_report(truth, lite0_lstm_probs(train_lite0_lstm(train, seed), test))
        log(f"lite0_lstm trained and scored in {time.monotonic() - started:.0f} s")
    if finetune[0] and maps is not None:
        stages, seconds = finetune
        config = EmbeddingTrainConfig(seed=seed)
        result = finetune_embedding_model(config, [maps[b.video] for b in train], stages=stages, max_time_s=seconds)
        predictions = finetuned_predictions(result.model, [maps[b.video] for b in test])
        out[f"probe_finetune{stages}"] = score_report(truth, np.array([p["probs"] for p in predictions]),
                                                       findings=finding_truth(test, predictions, config.findings))
        log(f"fine-tuned {stages} stage(s): {result.metrics}")
    return out


def summarise(folds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for method in folds[0]:
        rows = [f[method] for f in folds]
        entry: dict[str, Any] = {}
        for key, value in rows[0].items():
            if isinstance(value, float | int) and key != "n_videos":
                values = [r[key] for r in rows if r.get(key) is not None]
                entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None
        entry["recall_per_class"] = np.mean([r["recall_per_class"] for r in rows], axis=0).round(3).tolist()
        summary[method] = entry
    return summary


def baselines(out: Path, threads: int, rerun: bool) -> dict[str, dict[str, Any]]:
    """Reg-STN and CNN-LSTM figures from their own benchmarks (same folds), rerun first if asked."""
    if rerun:
        for script in ("regstn_cv.py", "sequence_cv.py"):
            log(f"running bench/{script}")
            subprocess.run([sys.executable, str(HERE / script), "--threads", str(threads), "--out", str(out)], check=True)
    rows: dict[str, dict[str, Any]] = {}
    regstn = out / "regstn_cv.json"
    if regstn.is_file():
        summary = json.loads(regstn.read_text())["summary"]
        for method in ("uninorm", "max_argmax", "argmax_mean"):
            rows[f"reg_stn_{method}"] = {"f1_weighted": summary[f"video_f1_{method}"],
                                         "accuracy": summary[f"video_accuracy_{method}"]}
    sequence = out / "sequence_cv.json"
    if sequence.is_file():
        for name, model in json.loads(sequence.read_text())["models"].items():
            rows[name] = {"f1_weighted": model["summary"]["video_f1"], "accuracy": model["summary"]["video_accuracy"]}
    return rows


COLUMNS = ("f1_weighted", "f1_macro", "quadratic_kappa", "ece", "auc_a_lines", "auc_b_lines")


def table(summary: dict[str, dict[str, Any]]) -> str:
    def cell(entry: dict[str, Any], key: str) -> str:
        value = entry.get(key)
        return f"{value['mean']:.3f} ± {value['std']:.3f}" if value else "—"

    lines = ["| method | " + " | ".join(COLUMNS) + " | recall 0/1/2/3 |", "|---" * (len(COLUMNS) + 2) + "|"]
    for method, entry in summary.items():
        recall = "/".join(f"{r:.2f}" for r in entry.get("recall_per_class", [])) or "—"
        lines.append(f"| {method} | " + " | ".join(cell(entry, key) for key in COLUMNS) + f" | {recall} |")
    return "\n".join(lines)


def plot(path: Path, summary: dict[str, dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("f1_weighted", "f1_macro", "quadratic_kappa", "ece")
    methods = list(summary)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 0.45 * len(methods) + 1.5), sharey=True)
    for axis, metric in zip(axes, metrics, strict=True):
        values = [summary[m].get(metric) or {"mean": np.nan, "std": 0} for m in methods]
        axis.barh(methods, [v["mean"] for v in values], xerr=[v["std"] for v in values], color="#4c78a8")
        axis.set_title(metric.replace("_", " "))
        axis.invert_yaxis()
        axis.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--train", type=Path, help="train on this folder (with --test: no CV)")
    p.add_argument("--test", type=Path, help="measure on this folder (with --train)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="results folder (a file with --train/--test)")
    p.add_argument("--cache", type=Path, default=HERE.parent / "var" / "embeddings", help="frame-embedding cache folder")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines", action="store_true", help="rerun bench/regstn_cv.py and sequence_cv.py first")
    p.add_argument("--methods", nargs="+", choices=[*EMBEDDING_METHODS, "lite0_lstm"],
                   help="only these methods (default: all; the majority always)")
    p.add_argument("--finetune-blocks", type=int, default=0,
                   help="also fine-tune the encoder's last N stages on cached front maps (probe_finetuneN)")
    p.add_argument("--max-time-s", type=float, default=120.0, help="fine-tuning time budget per fold")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    recipe = EmbeddingTrainConfig()
    spec, cache, started = recipe.embedding_spec(), EmbeddingCache(args.cache), time.monotonic()
    if (args.train is None) != (args.test is None):
        p.error("--train and --test go together")
    if args.train is not None:
        train, test = load_bags(args.train, spec, recipe.frame_step, cache), load_bags(args.test, spec, recipe.frame_step, cache)
        result = {"train": str(args.train), "test": str(args.test), "n_train": len(train), "n_test": len(test),
                  "metrics": evaluate_fold(train, test, args.seed), "seconds": round(time.monotonic() - started, 1)}
        args.out.write_text(json.dumps(result, indent=2, default=float))
        print(table(summarise([result["metrics"]])))
        return 0
    log(f"embedding {args.data} ({spec.key}, every {recipe.frame_step}th frame; cache {args.cache})")
    bags = load_bags(args.data, spec, recipe.frame_step, cache)
    maps = None
    if args.finetune_blocks:
        log(f"front maps for fine-tuning the last {args.finetune_blocks} stage(s)")
        front = FrontEmbedder(spec, stages=args.finetune_blocks)
        maps = {b.video: b for b in folder_bags(args.data, EmbeddingCache(args.cache / f"front{args.finetune_blocks}"),
                                                spec=spec, frame_step=recipe.frame_step, embedder=front)}
    embedded = time.monotonic() - started
    worst = patient_max_scores([b.patient for b in bags], [int(b.score) for b in bags])  # type: ignore[arg-type]
    patients = sorted(worst)
    folds = patient_kfold(patients, args.folds, args.seed, labels=[worst[q] for q in patients])
    results = []
    for index, (_, test_patients) in enumerate(folds):
        held = set(test_patients)
        fold = evaluate_fold([b for b in bags if b.patient not in held], [b for b in bags if b.patient in held],
                             args.seed + index, methods=set(args.methods) if args.methods else None, maps=maps,
                             finetune=(args.finetune_blocks, args.max_time_s))
        results.append(fold)
        log(f"fold {index + 1}: " + ", ".join(f"{m} {r['f1_weighted']:.3f}" for m, r in fold.items()))
    summary = {**summarise(results), **baselines(args.out, args.threads, args.baselines)}
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "dataset": str(args.data), "n_videos": len(bags), "n_patients": len(patients),
        "protocol": f"patient-level {args.folds}-fold CV (seed {args.seed}, stratified by worst score)",
        "recipe": dataclasses.asdict(recipe), "methods": {"embedding": EMBEDDING_METHODS, "only": args.methods,
                                                           "finetune": {"stages": args.finetune_blocks,
                                                                        "max_time_s": args.max_time_s}},
        "summary": summary, "folds": results,
        "timing_s": {"embedding": round(embedded, 1), "total": round(time.monotonic() - started, 1)},
        "machine": {"threads": args.threads, "python": platform.python_version(), "torch": torch.__version__},
    }
    (args.out / "covid_blues_cv.json").write_text(json.dumps(report, indent=2, default=float))
    plot(args.out / "covid_blues_cv.png", summary, f"COVID-BLUeS dev, {len(patients)} patients, {args.folds}-fold CV")
    print(table(summary))
    log(f"done in {time.monotonic() - started:.0f} s (embedding {embedded:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
