"""Sequence models (CNN-LSTM video scorers) on COVID-BLUeS (dev subset) under the patient-level 5-fold protocol of
``bench/regstn_cv.py``, side by side with its Reg-STN + uninorm figures.

Same data loading, folds and metrics as ``regstn_cv.py`` (its functions are imported): 5 patient-level
folds (seed 0, stratified by patient max score), weighted F1 of the video scores on each test fold. The
uninorm figures are read from ``bench/results/regstn_cv.json`` (the fold test patients are checked to
be identical, so the comparison is paired); run that bench first.

CNN-LSTM training (CPU-feasible configuration, fixed in advance, no tuning on this folder): every model is
trained on all training patients of the fold (no aggregator split is needed); frames 64x64 (decoded once,
cached), every 4th frame, windows of 20 consecutive sampled frames, stride 5; ``--epochs`` epochs, batch 8,
Adam lr 1e-3 cosine, class-balanced windows, seed 0; the published heads (LSTM 512, dropout 0.4, two dense
1024 for ``xception_lstm``) with narrow convolutional trunks (printed with the results). Evaluation tiles
every 2nd frame of each test video with windows of 20: ``xception_lstm`` averages its window softmaxes,
``densenet_lstm`` (per-frame scores, weak labels = video score) averages its frame probabilities.

Usage: ``python bench/sequence_cv.py [--models xception_lstm densenet_lstm] [--threads 1] [--epochs 6]``
(``--phantom`` runs the pipeline on regstn_cv's synthetic stand-in as a sanity check).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from regstn_cv import DEFAULT_DATA, frame_rows, load_videos, log, make_phantom_dataset, mean_std

from ml.data import VideoFrameCache, patient_kfold
from ml.inference import predict_sequence_rows
from ml.metrics import confusion_matrix, to_strict_json, video_metrics
from ml.training import SequenceTrainConfig, train_sequence_model

#: Narrow trunks that train on a 2-core CPU; the LSTM and dense heads keep their published sizes.
CPU_KWARGS: dict[str, dict[str, Any]] = {
    "xception_lstm": {"stem_channels": [16, 32], "entry_channels": [32, 64, 96], "middle_blocks": 2,
                      "exit_channels": [128, 160, 192]},
    "densenet_lstm": {"growth_rate": 12, "block_config": [4, 6, 8], "num_init_features": 24,
                      "ae_channels": [16, 32, 64], "separable_channels": [64, 128], "fusion_dim": 256,
                      "lstm_hidden": 128},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--uninorm", type=Path, help="regstn_cv JSON to compare with (default: <out>/regstn_cv.json)")
    p.add_argument("--models", nargs="+", default=["xception_lstm"], choices=sorted(CPU_KWARGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--train-step", type=int, default=4)
    p.add_argument("--eval-step", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="sequence_cv")
    p.add_argument("--phantom", action="store_true", help="sanity check on the synthetic stand-in")
    args = p.parse_args(argv)
    if args.phantom:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="pleura_phantom_lstm_")
        args.data = make_phantom_dataset(Path(tmp.name))
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    size = (args.size, args.size)
    videos = load_videos(args.data)
    n_patients = len({v["patient"] for v in videos})
    log(f"{len(videos)} videos, {n_patients} patients, scores {dict(sorted(Counter(v['score'] for v in videos).items()))}")
    cache = VideoFrameCache(max_bytes=4 * 1024**3)
    lengths = {v["video"]: len(cache.video(v["path"], size)[0]) for v in videos}
    log(f"decoded {sum(lengths.values())} frames in {time.perf_counter() - t_start:.0f} s")
    folds = patient_kfold([v["patient"] for v in videos], args.folds, args.seed, labels=[v["score"] for v in videos])

    uninorm_path = args.uninorm or args.out / "regstn_cv.json"
    uninorm = json.loads(uninorm_path.read_text()) if uninorm_path.is_file() and not args.phantom else None
    if uninorm is not None:
        same = [sorted(f["test_patients"]) for f in uninorm["folds"]] == [sorted(t) for _, t in folds]
        if not same:
            log(f"{uninorm_path} was made with other folds: no side-by-side comparison")
            uninorm = None

    results: dict[str, Any] = {}
    for model in args.models:
        config = SequenceTrainConfig(model=model, model_kwargs=CPU_KWARGS[model], window=args.window,
                                     stride=args.stride, epochs=args.epochs, batch_size=8, size=size, lr=1e-3,
                                     seed=args.seed, device="cpu")
        folds_out, pooled = [], np.zeros((4, 4), dtype=np.int64)
        for k, (train_patients, test_patients) in enumerate(folds, start=1):
            tf = time.perf_counter()
            train_videos = [v for v in videos if v["patient"] in set(train_patients)]
            test_videos = [v for v in videos if v["patient"] in set(test_patients)]
            labels = {v["video"]: v["score"] for v in videos}

            def on_progress(pr, k=k, model=model) -> None:
                if pr.phase == "epoch":
                    log(f"{model} fold {k} epoch {pr.epoch}/{pr.epochs}: loss {pr.loss:.4f} "
                        f"({(pr.metrics or {}).get('time_s', 0):.0f} s)")

            result = train_sequence_model(config, frame_rows(train_videos, lengths, args.train_step),
                                          video_labels=labels, progress_callback=on_progress, cache=cache)
            _, vids = predict_sequence_rows(result.model, frame_rows(test_videos, lengths, args.eval_step),
                                            size=size, window=args.window, cache=cache)
            vt = np.array([labels[v["video"]] for v in vids])
            vp = np.array([v["pred"] for v in vids])
            metrics = video_metrics(vt, vp)
            pooled += confusion_matrix(vt, vp, num_classes=4)
            folds_out.append({"fold": k, "test_patients": sorted(test_patients), "n_test_videos": len(vids),
                              "video": metrics, "train_windows": result.metrics["train_windows"],
                              "train_history": result.history, "time_s": time.perf_counter() - tf})
            log(f"{model} fold {k}: video F1 {metrics['f1']:.3f} ({folds_out[-1]['time_s']:.0f} s)")
        results[model] = {
            "config": config.to_dict(),
            "params": sum(p.numel() for p in result.model.parameters()),
            "summary": {"video_f1": mean_std([f["video"]["f1"] for f in folds_out]),
                        "video_accuracy": mean_std([f["video"]["accuracy"] for f in folds_out])},
            "folds": folds_out,
            "pooled_confusion": pooled.tolist(),
        }

    total_s = time.perf_counter() - t_start
    out: dict[str, Any] = {
        "dataset": "phantom stand-in (ml.phantom, synthetic)" if args.phantom else str(args.data),
        "n_videos": len(videos), "n_patients": n_patients,
        "protocol": (f"patient-level {args.folds}-fold CV as bench/regstn_cv.py (seed {args.seed}, stratified by "
                     f"patient max score); video weighted F1 on the test folds; frames {args.size}x{args.size}, train "
                     f"every {args.train_step}th frame, windows of {args.window} (stride {args.stride}), test every "
                     f"{args.eval_step}nd frame; no tuning on this data"),
        "models": results,
        "uninorm": None if uninorm is None else {
            "source": str(uninorm_path), "per_fold_video_f1": [f["video"]["uninorm"]["f1"] for f in uninorm["folds"]],
            "summary": uninorm["summary"]["video_f1_uninorm"]},
        "threads": args.threads, "total_s": total_s,
        "machine": {"torch": torch.__version__, "cpu": platform.processor() or platform.machine()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}.json"
    path.write_text(json.dumps(to_strict_json(out), indent=2) + "\n")

    print(f"\n{out['dataset']}: {len(videos)} videos / {n_patients} patients, {args.folds}-fold patient CV, "
          f"{total_s / 60:.1f} min, {args.threads} thread(s)")
    rows = []
    if uninorm is not None:
        rows.append(("Reg-STN + uninorm", out["uninorm"]["per_fold_video_f1"]))
    rows += [(name, [f["video"]["f1"] for f in r["folds"]]) for name, r in results.items()]
    print(f"{'video weighted F1':<22} " + " ".join(f"{'fold ' + str(i + 1):>7}" for i in range(args.folds))
          + f" {'mean +- std':>15}")
    for name, values in rows:
        ms = mean_std(values)
        print(f"{name:<22} " + " ".join(f"{v:>7.3f}" for v in values) + f" {ms['mean']:>7.3f} +- {ms['std']:.3f}")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
