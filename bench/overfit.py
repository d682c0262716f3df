"""Diagnosis: can the Reg-STN fit 200 real frames? Learning curves with and without augmentation.

A scorer that cannot overfit a few hundred frames has a bug or a wrong setting. 200 frames of the
COVID-BLUeS dev folder (50 per score: 5 videos per score, every 10th frame), 64x64, batch 32, Adam
lr 1e-3, 20 epochs, evaluated on the same frames, for four augmentation settings: none, the default
``LUSAugment``, geometric only, photometric only. Prints one line per epoch and writes
``bench/results/overfit.json``.

Usage: ``python bench/overfit.py [--threads 1] [--epochs 20] [--data DIR]``
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ml.training.frame as frame_training
from ml.data import LUSAugment, ManifestRow
from ml.training import FrameTrainConfig, train_frame_scorer

DEFAULT_DATA = Path("/work/shared/data/covid-blues-dev")
#: LUSAugment keyword arguments that switch a family of transforms off
SETTINGS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "default": {},
    "geometric_only": {"brightness": 0.0, "contrast": 0.0, "noise_std": 0.0, "blur_p": 0.0},
    "photometric_only": {"rotation_deg": 0.0, "translate": 0.0, "scale": (1.0, 1.0), "hflip_p": 0.0},
}


def subset(data: Path, per_score: int = 5, step: int = 10) -> list[ManifestRow]:
    rows = list(csv.DictReader((data / "severity.csv").open()))
    by_score: dict[int, list[str]] = {}
    for row in rows:
        by_score.setdefault(int(float(row["Severity Score"])), []).append(row["video_file"])
    out = []
    for score, videos in sorted(by_score.items()):
        for video in videos[:per_score]:
            out += [ManifestRow(patient=video.split("_")[1], video=video, score=score, frame=frame,
                                video_path=data / "lus_videos" / f"{video}.mp4") for frame in range(0, 100, step)]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "overfit.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = subset(args.data)
    results: dict[str, Any] = {"frames": len(rows), "epochs": args.epochs, "settings": {}}
    for name, overrides in SETTINGS.items():
        frame_training.LUSAugment = functools.partial(LUSAugment, **(overrides or {}))  # type: ignore[misc]
        config = FrameTrainConfig(model="reg_stn", size=(64, 64), epochs=args.epochs, batch_size=32, lr=1e-3,
                                  augment=overrides is not None, device="cpu", seed=0)
        started = time.monotonic()
        result = train_frame_scorer(config, rows, val_rows=rows)
        curve = [{"epoch": h["epoch"], "train_loss": round(h["train_loss"], 4),
                  "train_accuracy": round(h["train_accuracy"], 3), "accuracy": round(h["val_accuracy"], 3)}
                 for h in result.history]
        for point in curve:
            print(f"{name:<17} epoch {point['epoch']:>2}  loss {point['train_loss']:.3f}  "
                  f"train acc {point['train_accuracy']:.3f}  acc on the same frames {point['accuracy']:.3f}")
        results["settings"][name] = {"curve": curve, "seconds": round(time.monotonic() - started, 1)}
    frame_training.LUSAugment = LUSAugment  # type: ignore[misc]
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v["curve"][-1] for k, v in results["settings"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
