"""Frame loading through the worker's media cache (core.media_cache) from an S3 API: cold, warm in a new
job (one HEAD per file to revalidate) and warm within the job (no request), vs the local folder.

Runs moto's S3 server on the loopback (as the tests do); the figures are an upper bound for a real MinIO on
the LAN only in their request count, not their latency. `python bench/media_cache.py --frames 500`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import REPO, free_port, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    scratch = setup_django()
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        run(endpoint, scratch, args.frames, args.size)
    finally:
        moto.terminate()


def run(endpoint: str, scratch: Path, frames: int, size: int) -> None:
    import boto3
    import cv2
    import numpy as np
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage
    from storages.backends.s3 import S3Storage

    from core.media_cache import MediaCache

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
    s3 = S3Storage(bucket_name="bench", endpoint_url=endpoint, region_name="us-east-1", addressing_style="path",
                   file_overwrite=False)
    folder = FileSystemStorage(location=str(scratch / "media"))
    rng = np.random.default_rng(0)
    png = [cv2.imencode(".png", cv2.GaussianBlur(rng.integers(0, 255, (size, size), np.uint8), (9, 9), 3))[1].tobytes()
           for _ in range(16)]
    names = [f"frames/{i // 100}/{i % 100:06d}.png" for i in range(frames)]
    for i, name in enumerate(names):
        s3.save(name, ContentFile(png[i % 16]))
        folder.save(name, ContentFile(png[i % 16]))
    total = sum(len(png[i % 16]) for i in range(frames))

    def read_all(paths: list[Path]) -> None:
        for path in paths:
            cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)

    cache = MediaCache(scratch / "cache", max_bytes=10 * total)
    lines = [f"{frames} frames of {size}x{size} px, {total / frames / 1024:.0f} KiB each (moto S3 on the loopback, "
             f"settings {settings.SETTINGS_MODULE})"]
    for label, prepare in (("cold (download + checksum)", lambda: None),
                           ("warm, new job (one HEAD each)", lambda: None),
                           ("warm, same job (no request)", None)):
        if prepare is not None:
            cache.pinned, cache.validated = set(), set()
        start = time.perf_counter()
        paths = [cache.local(name, s3) for name in names]
        fill = time.perf_counter() - start
        start = time.perf_counter()
        read_all(paths)
        lines.append(f"  {label:32s} materialise {fill:6.2f} s ({fill / frames * 1000:5.2f} ms/frame), "
                     f"decode {time.perf_counter() - start:5.2f} s")
    start = time.perf_counter()
    read_all([Path(folder.path(name)) for name in names])
    lines.append(f"  {'local folder (no cache)':32s} materialise   0.00 s, decode {time.perf_counter() - start:5.2f} s")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
