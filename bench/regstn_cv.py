"""Patient-level 5-fold cross-validation of Reg-STN + video aggregation on COVID-BLUeS (dev subset).

Data: ``/work/shared/data/covid-blues-dev`` (read-only, never copied): 237 LUS videos
``lus_videos/patient_<ID>_<POINT>[_2].mp4`` (350x350, 25 fps, ~100 frames) of 42 patients and
``severity.csv`` (``video_file``, ``Severity Score`` 0-3). Only video-level scores exist, so every frame
carries its video's score as a *weak* label.

Protocol (fixed in advance; nothing is tuned on this folder, whose other patients are a held-out test set):

* Outer split: :func:`ml.data.patient_kfold`, k=5, seed 0, stratified by patient max score. No patient is
  ever in two folds.
* Inside each outer training set the patients are split once more (:func:`patient_train_test_split`,
  25 %, stratified): the *scorer part* trains the frame scorer, the *aggregator part* is scored by that
  frame scorer and its frame predictions train the uninorm aggregator, so the aggregator only sees
  predictions on videos the frame scorer never saw (as in the paper, where the aggregator is trained on
  frame predictions of held-out videos). We chose this over inner out-of-fold predictions because the
  latter needs k extra frame-scorer trainings per fold, which does not fit the CPU budget.
* Frame scorer (CPU-feasible configuration): ``reg_stn`` (learned scale + rotation + translation,
  SORD + consistency + scale prior, registry defaults), input 64x64 (videos decoded once, resized, cached
  in memory as uint8), training on every 5th frame, 8 epochs, batch 64, Adam lr 1e-3 cosine, weight decay
  1e-4, class-balanced sampling, augmentation on, seed 0.
* Aggregation and evaluation use every 2nd frame of each video (~50 frames / video).
* Test fold: frame weighted / macro F1 (weak labels), video weighted F1 for the uninorm aggregator
  (product t-norm, ``min`` off-diagonal rule, :func:`fit_aggregator` defaults), ``max_argmax`` and
  ``argmax_mean``; mean +- std over the 5 folds, plus pooled confusion matrices.

Writes ``bench/results/regstn_cv.json`` and ``bench/results/regstn_cv.png`` and prints the table.
``--phantom --name phantom_cv`` runs the identical pipeline on a synthetic stand-in (:mod:`ml.phantom`,
20 patients x 5 videos of 60 frames, learnable labels) as a sanity check that the pipeline itself learns.

Usage: ``python bench/regstn_cv.py [--threads 1] [--data DIR] [--out bench/results]``
(one torch thread by default: on a 2-core machine shared with other jobs, two threads are several times
slower than one).
(``--epochs`` etc. exist for smoke runs on other data; the reported numbers use the defaults.)
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.data import ManifestRow, VideoFrameCache, patient_kfold, patient_train_test_split
from ml.inference import predict_frames, predict_videos
from ml.metrics import confusion_matrix, frame_f1, to_strict_json, video_metrics
from ml.training import AggregatorTrainConfig, FrameTrainConfig, train_aggregator, train_frame_scorer

DEFAULT_DATA = Path("/work/shared/data/covid-blues-dev")
NAME_RE = re.compile(r"^patient_(?P<patient>[^_]+)_(?P<point>[^_]+)(?:_\d+)?$")
METHODS = ("uninorm", "max_argmax", "argmax_mean")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def make_phantom_dataset(root: Path, n_patients: int = 20, points: int = 5, n_frames: int = 60) -> Path:
    """Write a synthetic stand-in with the same layout (``lus_videos/*.mp4`` + ``severity.csv``) from
    :mod:`ml.phantom`: constant score per video, random 0-3, linear / convex probes alternating by patient.
    Used as a sanity check that the pipeline learns when the labels are learnable."""
    import cv2

    from ml.phantom import generate_phantom_video

    (root / "lus_videos").mkdir(parents=True, exist_ok=True)
    lines = ["video_file,Severity Score"]
    rng = np.random.default_rng(0)
    i = 0
    for p in range(n_patients):
        for point in ("L1", "L2", "R1", "R2", "R3", "L3", "R4", "L4")[:points]:
            s = int(rng.integers(0, 4))
            v = generate_phantom_video(
                seed=1000 + i, n_frames=n_frames, height=160, width=160,
                geometry="convex" if p % 2 else "linear", score_path=[s] * n_frames,
            )  # fmt: skip
            i += 1
            name = f"patient_{p}_{point}"
            vw = cv2.VideoWriter(
                str(root / "lus_videos" / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (160, 160)
            )
            for f in v.frames:
                vw.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
            vw.release()
            lines.append(f"{name},{float(s)}")
    (root / "severity.csv").write_text("\n".join(lines) + "\n")
    return root


def load_videos(data: Path) -> list[dict[str, Any]]:
    """``[{"video", "patient", "score", "path"}]`` for every video with a severity score."""
    scores: dict[str, int] = {}
    with (data / "severity.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = (row.get("Severity Score") or "").strip()
            if value:
                scores[row["video_file"].strip()] = round(float(value))
    videos = []
    for path in sorted((data / "lus_videos").glob("*.mp4")):
        m = NAME_RE.match(path.stem)
        if m is None or path.stem not in scores:
            log(f"skipping {path.name} (no patient id or no score)")
            continue
        videos.append({"video": path.stem, "patient": m["patient"], "score": scores[path.stem], "path": path})
    return videos


def frame_rows(videos: list[dict[str, Any]], lengths: dict[str, int], step: int) -> list[ManifestRow]:
    return [
        ManifestRow(patient=v["patient"], video=v["video"], score=v["score"], video_path=v["path"], frame=t)
        for v in videos
        for t in range(0, lengths[v["video"]], step)
    ]


def mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def plot(path: Path, folds: list[dict[str, Any]], pooled: dict[str, np.ndarray], title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2, 1)
    series = [("frame F1 (weak)", [f["frame"]["f1_weighted"] for f in folds])] + [
        (f"video F1 {m}", [f["video"][m]["f1"] for f in folds]) for m in METHODS
    ]
    width = 0.8 / len(series)
    x = np.arange(len(folds))
    for i, (name, values) in enumerate(series):
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width, values, width, label=f"{name} ({np.mean(values):.2f})"
        )
    ax.set_xticks(x, [f"fold {f['fold']}" for f in folds])
    ax.set_ylim(0, 1)
    ax.set_ylabel("weighted F1")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    for j, (name, counts) in enumerate(pooled.items()):
        a = fig.add_subplot(1, 2 * len(pooled), len(pooled) + 1 + j)
        rows = counts.sum(1, keepdims=True)
        share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
        a.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for r in range(counts.shape[0]):
            for c in range(counts.shape[1]):
                a.text(c, r, int(counts[r, c]), ha="center", va="center", fontsize=7,
                       color="white" if share[r, c] > 0.5 else "black")  # fmt: skip
        a.set_title(f"pooled {name}", fontsize=8)
        a.set_xlabel("pred", fontsize=7)
        a.set_ylabel("true", fontsize=7)
        a.set_xticks(range(counts.shape[1]))
        a.set_yticks(range(counts.shape[0]))
        a.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on a shared 2-core box)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--train-step", type=int, default=5, help="use every n-th frame for training")
    p.add_argument("--eval-step", type=int, default=2, help="use every n-th frame for aggregation / test")
    p.add_argument("--aggregator-fraction", type=float, default=0.25)
    p.add_argument("--model", default="reg_stn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="regstn_cv", help="output file stem")
    p.add_argument(
        "--phantom", action="store_true",
        help="sanity check: run on a synthetic phantom stand-in (20 patients x 5 videos) in a temp dir",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.phantom:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="pleura_phantom_cv_")
        args.data = make_phantom_dataset(Path(tmp.name))
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    size = (args.size, args.size)
    config = FrameTrainConfig(
        model=args.model, epochs=args.epochs, batch_size=64, size=size, lr=1e-3, weight_decay=1e-4,
        seed=args.seed, device="cpu", augment=True, balanced_sampling=True,
    )  # fmt: skip
    agg_config = AggregatorTrainConfig(seed=args.seed)

    videos = load_videos(args.data)
    n_patients = len({v["patient"] for v in videos})
    log(
        f"{len(videos)} videos, {n_patients} patients, scores {dict(sorted(Counter(v['score'] for v in videos).items()))}"
    )
    cache = VideoFrameCache(max_bytes=4 * 1024**3)
    lengths: dict[str, int] = {}
    t0 = time.perf_counter()
    for i, v in enumerate(videos):
        frames, _ = cache.video(v["path"], size)
        lengths[v["video"]] = len(frames)
        if (i + 1) % 50 == 0:
            log(f"decoded {i + 1}/{len(videos)} videos")
    decode_s = time.perf_counter() - t0
    log(
        f"decoded all videos once in {decode_s:.0f} s ({sum(lengths.values())} frames, {cache.nbytes / 1e6:.0f} MB)"
    )

    patients_per_video = [v["patient"] for v in videos]
    labels_per_video = [v["score"] for v in videos]
    folds = patient_kfold(patients_per_video, args.folds, args.seed, labels=labels_per_video)
    results: list[dict[str, Any]] = []
    pooled = {m: np.zeros((4, 4), dtype=np.int64) for m in METHODS}
    pooled_frame = np.zeros((4, 4), dtype=np.int64)
    for k, (train_patients, test_patients) in enumerate(folds, start=1):
        tf = time.perf_counter()
        train_videos = [v for v in videos if v["patient"] in set(train_patients)]
        scorer_patients, agg_patients = patient_train_test_split(
            [v["patient"] for v in train_videos], args.aggregator_fraction, args.seed + k,
            labels=[v["score"] for v in train_videos],
        )  # fmt: skip
        assert not set(scorer_patients) & set(agg_patients) and not set(train_patients) & set(test_patients)
        scorer_videos = [v for v in train_videos if v["patient"] in set(scorer_patients)]
        agg_videos = [v for v in train_videos if v["patient"] in set(agg_patients)]
        test_videos = [v for v in videos if v["patient"] in set(test_patients)]
        train_rows = frame_rows(scorer_videos, lengths, args.train_step)
        log(
            f"fold {k}: scorer {len(scorer_patients)} patients / {len(scorer_videos)} videos / {len(train_rows)} "
            f"frames; aggregator {len(agg_patients)} patients / {len(agg_videos)} videos; test "
            f"{len(test_patients)} patients / {len(test_videos)} videos"
        )

        def on_progress(pr, k=k) -> None:
            if pr.phase == "epoch":
                m = pr.metrics or {}
                log(f"fold {k} epoch {pr.epoch}/{pr.epochs}: loss {pr.loss:.4f} "
                    f"acc {m.get('train_accuracy', float('nan')):.3f} ({m.get('time_s', 0):.0f} s)")  # fmt: skip

        result = train_frame_scorer(config, train_rows, progress_callback=on_progress, cache=cache)
        model = result.model
        agg_preds = predict_frames(
            model, frame_rows(agg_videos, lengths, args.eval_step), size=size, cache=cache
        )
        agg = train_aggregator(agg_config, agg_preds, {v["video"]: v["score"] for v in agg_videos})
        test_rows = frame_rows(test_videos, lengths, args.eval_step)
        test_preds = predict_frames(model, test_rows, size=size, cache=cache)
        yt = np.array([r.score for r in test_rows])
        yp = np.array([p["pred"] for p in test_preds])
        vids = predict_videos(
            test_preds, aggregator=agg.aggregator, video_labels={v["video"]: v["score"] for v in test_videos}
        )
        vt = np.array([v["score"] for v in vids])
        fold: dict[str, Any] = {
            "fold": k,
            "test_patients": sorted(test_patients),
            "n_test_videos": len(vids),
            "n_test_frames": len(test_rows),
            "n_train_frames": len(train_rows),
            "n_aggregator_videos": len(agg_videos),
            "frame": {
                "f1_weighted": frame_f1(yt, yp, average="weighted"),
                "f1_macro": frame_f1(yt, yp, average="macro"),
                "accuracy": float(np.mean(yt == yp)),
            },
            "video": {},
            "aggregator_neutral": agg.aggregator.neutral_elements().detach().tolist(),
            "train_history": result.history,
        }
        pooled_frame += confusion_matrix(yt, yp, num_classes=4)
        for m in METHODS:
            vp = np.array([v["pred" if m == "uninorm" else m] for v in vids])
            fold["video"][m] = video_metrics(vt, vp)
            pooled[m] += confusion_matrix(vt, vp, num_classes=4)
        fold["time_s"] = time.perf_counter() - tf
        results.append(fold)
        log(
            f"fold {k} done in {fold['time_s']:.0f} s: frame F1 {fold['frame']['f1_weighted']:.3f}; video F1 "
            + ", ".join(f"{m} {fold['video'][m]['f1']:.3f}" for m in METHODS)
        )

    summary = {
        "frame_f1_weighted": mean_std([f["frame"]["f1_weighted"] for f in results]),
        "frame_f1_macro": mean_std([f["frame"]["f1_macro"] for f in results]),
        **{f"video_f1_{m}": mean_std([f["video"][m]["f1"] for f in results]) for m in METHODS},
        **{f"video_accuracy_{m}": mean_std([f["video"][m]["accuracy"] for f in results]) for m in METHODS},
    }
    total_s = time.perf_counter() - t_start
    out = {
        "dataset": "phantom stand-in (ml.phantom, synthetic)" if args.phantom else str(args.data),
        "n_videos": len(videos),
        "n_patients": n_patients,
        "protocol": (
            f"patient-level {args.folds}-fold CV (stratified by patient max score, seed {args.seed}); frame scorer "
            f"trained on the scorer part of each training fold, uninorm aggregator fit on frame predictions of the "
            f"held-out aggregator part ({args.aggregator_fraction:.0%} of training patients); weak frame labels = "
            "video score; no hyper-parameter tuning on this data"
        ),
        "config": {
            "frame_scorer": config.to_dict(),
            "aggregator": agg_config.to_dict(),
            "train_frame_step": args.train_step,
            "eval_frame_step": args.eval_step,
            "threads": args.threads,
        },
        "summary": summary,
        "folds": results,
        "pooled_confusion": {"frame": pooled_frame.tolist(), **{m: c.tolist() for m, c in pooled.items()}},
        "timing_s": {"decode": decode_s, "total": total_s},
        "machine": {"torch": torch.__version__, "cpu": platform.processor() or platform.machine()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{args.name}.json"
    json_path.write_text(json.dumps(to_strict_json(out), indent=2) + "\n")
    dataset_name = "phantom stand-in" if args.phantom else "COVID-BLUeS dev"
    title = f"{dataset_name}, patient-level {args.folds}-fold CV ({args.model} {args.size}x{args.size}, weak labels)"
    plot(
        args.out / f"{args.name}.png",
        results,
        {"uninorm": pooled["uninorm"], "max_argmax": pooled["max_argmax"]},
        title,
    )

    print()
    print(
        f"{dataset_name}: {len(videos)} videos / {n_patients} patients, {args.folds}-fold patient CV, {total_s / 60:.1f} min"
    )
    print(
        f"{'metric':<28} "
        + " ".join(f"{'fold ' + str(f['fold']):>7}" for f in results)
        + f" {'mean +- std':>15}"
    )
    rows = [("frame F1 weighted (weak)", [f["frame"]["f1_weighted"] for f in results])]
    rows += [("frame F1 macro (weak)", [f["frame"]["f1_macro"] for f in results])]
    rows += [(f"video F1 {m}", [f["video"][m]["f1"] for f in results]) for m in METHODS]
    for name, values in rows:
        ms = mean_std(values)
        print(
            f"{name:<28} "
            + " ".join(f"{v:>7.3f}" for v in values)
            + f" {ms['mean']:>7.3f} +- {ms['std']:.3f}"
        )
    print(f"\nwrote {json_path} and {args.out / (args.name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
