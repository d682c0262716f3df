"""Throughput of the agreement statistics (``ml.agreement``) on realistic synthetic annotations.

Scores: a hidden per-frame truth (videos of slowly varying LUS scores 0..3), ``--raters`` annotators who
copy it with a personal bias and noise (mostly +-1 slips), ~5 % of ratings missing. Timed:

* the full frame-level report (``agreement_report``: percent agreement, all pairwise Cohen kappas in three
  weightings, Fleiss, Krippendorff's alpha ordinal / interval / nominal, the leave-one-out measure,
  consensus, bias, confusion) for ``--frames`` frames, plus the video-level report for ``--videos`` videos
  (goal: both together under 1 s);
* pairwise Dice / IoU (4 classes + the union of COVID-19 markers) for ``--mask-frames`` frames at
  ``--mask-size`` (goal: under 5 s), and the majority-vote consensus masks.

Usage::

    python bench/agreement_stats.py [--frames 60000] [--videos 600] [--mask-frames 1000] [--runs 5]

Prints timings (median of ``--runs``); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    import ml.agreement  # noqa: F401
except ImportError:  # run as a script from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.agreement import agreement_report, consensus_mask_batch, pairwise_dice_batch


def _median_time(fn: Any, runs: int) -> tuple[float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def synthetic_scores(
    n_items: int, n_raters: int, rng: np.random.Generator, *, missing: float = 0.05, segment: int = 100
) -> np.ndarray:
    """``(n_items, n_raters)`` float scores: raters = hidden truth + bias + noise, NaN for ~``missing``."""
    n_seg = -(-n_items // segment)
    base = rng.integers(0, 4, size=n_seg)  # one score level per video / segment
    drift = np.cumsum(rng.normal(0.0, 0.08, size=n_items))  # slow within-video variation
    drift -= np.repeat(drift[::segment], segment)[:n_items]
    truth = np.clip(np.repeat(base, segment)[:n_items] + drift, 0, 3)
    bias = rng.normal(0.0, 0.25, size=n_raters)  # personal tendency to over / under-score
    noise = rng.normal(0.0, 0.45, size=(n_items, n_raters))
    scores = np.clip(np.rint(truth[:, None] + bias[None, :] + noise), 0, 3)
    scores[rng.random(scores.shape) < missing] = np.nan
    return scores


def synthetic_masks(n_frames: int, n_raters: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_frames, n_raters, h, w)`` uint8 class ids: a few jittered boxes per frame (pleural line, B-lines)."""
    masks = np.zeros((n_frames, n_raters, h, w), dtype=np.uint8)
    ys, xs = np.arange(h), np.arange(w)
    for shape in range(4):  # a handful of structures per frame, each with its own class
        cls = rng.integers(1, 5, size=n_frames).astype(np.uint8)
        present = rng.random(n_frames) < (0.9 if shape == 0 else 0.6)
        cy, cx = rng.uniform(0.2, 0.8, n_frames) * h, rng.uniform(0.2, 0.8, n_frames) * w
        hy, hx = rng.uniform(5, 40, n_frames), rng.uniform(5, 50, n_frames)
        for r in range(n_raters):  # each rater draws the box with some jitter
            jy, jx = rng.normal(0, 3, (2, n_frames))
            sy, sx = rng.normal(1, 0.1, (2, n_frames))
            in_y = np.abs(ys[None, :] - (cy + jy)[:, None]) < (hy * sy)[:, None]  # (F, h)
            in_x = np.abs(xs[None, :] - (cx + jx)[:, None]) < (hx * sx)[:, None]  # (F, w)
            inside = (in_y[:, :, None] & in_x[:, None, :] & present[:, None, None]).view(np.uint8)
            target = masks[:, r]  # branch-free "target[inside] = cls"
            target -= target * inside
            target += inside * cls[:, None, None]
    return masks


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60_000)
    parser.add_argument("--videos", type=int, default=600)
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--mask-frames", type=int, default=1_000)
    parser.add_argument("--mask-size", type=int, nargs=2, default=(200, 260), metavar=("H", "W"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    frames = synthetic_scores(args.frames, args.raters, rng)
    videos = synthetic_scores(args.videos, args.raters, rng, segment=1)
    t_frames, rep = _median_time(lambda: agreement_report(frames), args.runs)
    t_videos, rep_v = _median_time(lambda: agreement_report(videos), args.runs)
    t_both, _ = _median_time(lambda: (agreement_report(frames), agreement_report(videos)), args.runs)
    json.dumps(rep, allow_nan=False)  # the report must stay strict JSON

    h, w = args.mask_size
    masks = synthetic_masks(args.mask_frames, args.raters, h, w, rng)
    mask_runs = max(1, min(args.runs, 3))
    t_dice, dice = _median_time(lambda: pairwise_dice_batch(masks), mask_runs)
    t_cons, _ = _median_time(lambda: consensus_mask_batch(masks), mask_runs)

    figures = {
        "frames": args.frames,
        "videos": args.videos,
        "raters": args.raters,
        "frame_report_s": t_frames,
        "video_report_s": t_videos,
        "frame_plus_video_report_s": t_both,
        "mask_frames": args.mask_frames,
        "mask_size": [h, w],
        "pairwise_dice_s": t_dice,
        "consensus_mask_s": t_cons,
    }
    alpha = rep["krippendorff_alpha"]["ordinal"]["value"]
    kappa_q = rep["mean_pairwise_cohen_kappa"]["quadratic"]["value"]
    print(
        f"scores: {args.frames} frames + {args.videos} videos x {args.raters} raters "
        f"(ordinal alpha {alpha:.3f}, mean quadratic kappa {kappa_q:.3f}, "
        f"video alpha {rep_v['krippendorff_alpha']['ordinal']['value']:.3f})"
    )
    print(f"  frame report          {t_frames * 1e3:8.1f} ms")
    print(f"  video report          {t_videos * 1e3:8.1f} ms")
    print(f"  frame + video reports {t_both * 1e3:8.1f} ms   (goal < 1000 ms)")
    print(
        f"masks: {args.mask_frames} frames x {args.raters} raters at {h}x{w} "
        f"(mean union Dice {dice['mean_dice']['union']:.3f})"
    )
    print(f"  pairwise Dice / IoU   {t_dice * 1e3:8.1f} ms   (goal < 5000 ms)")
    print(f"  consensus masks       {t_cons * 1e3:8.1f} ms")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
