"""Benchmark the uninorm video aggregator on CPU (prints figures; nothing here is asserted).

    .venv/bin/python bench/aggregation.py [--repeats 15] [--threads 2]

Times, per t-norm and off-diagonal rule, the median wall time of ``UninormAggregator.forward`` (inference
mode) for a batch of 1,000 videos x 300 frames x 4 scores (goal: < 50 ms with 2 threads), for a single
100-frame video and for a single 10,000-frame video, plus ``predict`` on the big batch and the two
baselines for comparison. Each figure is the median of ``--repeats`` runs after warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import ml  # noqa: F401
except ImportError:  # run as a script from anywhere: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from ml.aggregation import OFF_DIAGONAL_RULES, TNORMS, UninormAggregator, argmax_mean, max_argmax

GOAL_MS = 50.0


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def frame_probs(batch: int, frames: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """Random ``(B, T, C)`` softmax outputs, float32."""
    return torch.softmax(3.0 * torch.randn(batch, frames, classes, generator=generator), dim=-1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per figure (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be >= 1")

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    big = frame_probs(1000, 300, 4, g)
    short = frame_probs(1, 100, 4, g)
    long = frame_probs(1, 10_000, 4, g)

    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, median of {args.repeats} runs")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    print(
        f"load average {load:.2f} on {cores} cores"
        + ("  (busy machine: timings inflated)" if load > 0.5 else "")
    )
    print(
        f"{'aggregator':<26}{'1000x300x4 (ms)':>17}{'predict (ms)':>14}{'1x100 (ms)':>12}{'1x10000 (ms)':>14}"
    )
    worst = 0.0
    with torch.inference_mode():
        for tnorm in TNORMS:
            for rule in OFF_DIAGONAL_RULES:
                model = UninormAggregator(4, tnorm=tnorm, off_diagonal=rule).eval()
                t_big = median_ms(lambda m=model: m(big), args.repeats)
                t_pred = median_ms(lambda m=model: m.predict(big), args.repeats)
                t_short = median_ms(lambda m=model: m(short), args.repeats)
                t_long = median_ms(lambda m=model: m(long), args.repeats)
                worst = max(worst, t_big)
                name = f"uninorm {tnorm}/{rule}"
                print(f"{name:<26}{t_big:>17.2f}{t_pred:>14.2f}{t_short:>12.3f}{t_long:>14.3f}")
        for name, fn in (("baseline max_argmax", max_argmax), ("baseline argmax_mean", argmax_mean)):
            t_big = median_ms(lambda f=fn: f(big), args.repeats)
            t_short = median_ms(lambda f=fn: f(short), args.repeats)
            t_long = median_ms(lambda f=fn: f(long), args.repeats)
            print(f"{name:<26}{t_big:>17.2f}{'':>14}{t_short:>12.3f}{t_long:>14.3f}")
    verdict = "met" if worst < GOAL_MS else "NOT met"
    print(f"slowest uninorm forward on 1000x300x4: {worst:.2f} ms (goal < {GOAL_MS:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
