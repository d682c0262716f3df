"""Frame-scorer throughput for every registered model.

CPU (always): inference frames/s at 224x224, batch 32, ``torch.set_num_threads(2)``, eval mode,
``torch.inference_mode``; median of ``--runs`` timed runs after ``--warmup`` untimed ones.

CUDA (only when available; skipped cleanly otherwise): training frames/s at batch 64 with the frames held on
the GPU as a uint8 tensor (converted + augmented per batch on the GPU), bf16 autocast and channels_last, and
inference frames/s at batch 256 under the same settings.

Usage::

    python bench/frame_scorer.py [--size 224 224] [--models reg_stn cnn_sord] [--json out.json]

Prints one table; nothing is asserted (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.data import LUSAugment
from ml.models import MODEL_REGISTRY, create_model, list_models


def _median_time(fn, warmup: int, runs: int, sync=lambda: None) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


#: Extra CPU row: the Reg-STN with the paper's trunk widths and an unstrided first convolution (what the
#: public reference network costs), for comparison with our default, CPU-sized trunk.
PAPER_REFERENCE = (
    "reg_stn[paper widths]",
    "reg_stn",
    {"widths": (32, 64, 64, 64, 128, 128), "stem_stride": 1},
)


def cpu_inference_fps(
    name: str, size: tuple[int, int], batch: int, warmup: int, runs: int, **model_kwargs
) -> float:
    torch.manual_seed(0)
    model = create_model(name, **model_kwargs).eval()
    x = torch.rand(batch, 1, *size) * 2 - 1

    def step():
        with torch.inference_mode():
            model(x)

    return batch / _median_time(step, warmup, runs)


def cuda_throughput(name: str, size: tuple[int, int], warmup: int, runs: int) -> dict[str, float]:
    dev = torch.device("cuda")
    sync = torch.cuda.synchronize
    torch.manual_seed(0)
    model = create_model(name).to(dev).to(memory_format=torch.channels_last)
    criterion = MODEL_REGISTRY[name].build_loss().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    n_frames = 4096
    frames = torch.randint(0, 256, (n_frames, 1, *size), dtype=torch.uint8, device=dev)
    labels = torch.randint(0, 4, (n_frames,), device=dev)
    augment = LUSAugment()
    batch = 64

    def train_step():
        idx = torch.randint(0, n_frames, (batch,), device=dev)
        x = frames.index_select(0, idx).float().div_(127.5).sub_(1.0)
        x = augment(x).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            parts = criterion(model(x), labels.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        parts.total.backward()
        opt.step()

    model.train()
    train_fps = batch / _median_time(train_step, warmup, runs, sync)
    model.eval()
    ib = 256

    def infer_step():
        idx = torch.randint(0, n_frames, (ib,), device=dev)
        x = (
            frames.index_select(0, idx)
            .float()
            .div_(127.5)
            .sub_(1.0)
            .contiguous(memory_format=torch.channels_last)
        )
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    infer_fps = ib / _median_time(infer_step, warmup, runs, sync)
    return {"train_fps_b64": train_fps, "infer_fps_b256": infer_fps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, nargs=2, default=(224, 224))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--models", nargs="*", default=None, help=f"subset of {list_models()}")
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    p.add_argument("--no-reference", action="store_true", help="skip the paper-width Reg-STN row")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = (args.size[0], args.size[1])
    names = args.models or list_models()
    results: dict[str, dict[str, float]] = {}
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}")
    print(
        f"CPU inference, {size[0]}x{size[1]}, batch {args.batch}, median of {args.runs} runs after {args.warmup} warm-up"
    )
    print(f"{'model':<22} {'params':>10} {'frames/s':>10}")
    for name in names:
        params = sum(q.numel() for q in create_model(name).parameters())
        fps = cpu_inference_fps(name, size, args.batch, args.warmup, args.runs)
        results[name] = {"params": params, "cpu_infer_fps": fps}
        print(f"{name:<22} {params:>10,} {fps:>10.1f}")
    if not args.no_reference:
        label, name, kwargs = PAPER_REFERENCE
        params = sum(q.numel() for q in create_model(name, **kwargs).parameters())
        fps = cpu_inference_fps(name, size, args.batch, 1, max(3, args.runs // 2), **kwargs)
        results[label] = {"params": params, "cpu_infer_fps": fps}
        print(f"{label:<22} {params:>10,} {fps:>10.1f}   (reference only, not registered)")
    if torch.cuda.is_available():
        print(
            f"\nCUDA ({torch.cuda.get_device_name()}): bf16 autocast, channels_last, uint8 frames on the GPU"
        )
        print(f"{'model':<22} {'train f/s (b64)':>16} {'infer f/s (b256)':>17}")
        for name in names:
            r = cuda_throughput(name, size, args.warmup, max(args.runs, 10))
            results[name].update(r)
            print(f"{name:<22} {r['train_fps_b64']:>16.1f} {r['infer_fps_b256']:>17.1f}")
    else:
        print("\nCUDA not available: GPU benchmark skipped.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"size": list(size), "threads": args.threads, "results": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
