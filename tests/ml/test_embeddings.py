"""Frame embeddings (ml.embeddings): video files and image files embed alike, every frame_step-th frame;
the on-disk cache computes once per (spec, content, frame step) and recovers from corrupt entries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ml.data.video_io import write_video
from ml.embeddings import (
    EmbeddingCache,
    EmbeddingSpec,
    FrameEmbedder,
    VideoBag,
    embed_image_files,
    embed_video_file,
)
from ml.hashing import file_sha256

pytestmark = pytest.mark.usefixtures("two_threads")

SPEC = EmbeddingSpec(pretrained=None, size=32)  # random weights: these tests are about plumbing, not features


@dataclass
class Clip:
    frames: np.ndarray
    fps: float = 10.0


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """12 distinct 64x64 gray frames (blocky noise, so resizing to 32 keeps them apart)."""
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    return np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_NEAREST) for f in small])


@pytest.fixture(scope="module")
def video(frames: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi", Clip(frames))


@pytest.fixture(scope="module")
def embedder() -> FrameEmbedder:
    torch.manual_seed(0)
    return FrameEmbedder(SPEC)


def test_embed_video_file_every_frame_step(embedder: FrameEmbedder, video: Path, frames: np.ndarray) -> None:
    assert embedder.dimension == 1280 and not embedder.encoder.training
    indices, vectors = embed_video_file(embedder, video, frame_step=4)
    assert indices.tolist() == [0, 4, 8] and indices.dtype == np.int32
    assert vectors.shape == (3, 1280) and vectors.dtype == np.float16
    assert np.isfinite(vectors).all()
    assert np.array_equal(vectors, embedder.embed(frames[[0, 4, 8]]))
    assert not np.array_equal(vectors[0], vectors[1])  # different frames, different vectors
    every, _ = embed_video_file(embedder, video)
    assert every.tolist() == list(range(12))
    assert embed_video_file(embedder, video, frame_step=5)[0].tolist() == [0, 5, 10]


def test_embed_video_file_refusals(embedder: FrameEmbedder, video: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frame_step must be >= 1"):
        embed_video_file(embedder, video, frame_step=0)
    with pytest.raises(FileNotFoundError):
        embed_video_file(embedder, tmp_path / "missing.avi")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 10)
    with pytest.raises(FileNotFoundError):
        embed_video_file(embedder, junk)


def test_image_files_embed_like_the_frames(embedder: FrameEmbedder, frames: np.ndarray, tmp_path: Path) -> None:
    paths = []
    for i in (0, 4, 8):
        paths.append(tmp_path / f"frame_{i:04d}.png")
        assert cv2.imwrite(str(paths[-1]), frames[i])
    indices, vectors = embed_image_files(embedder, paths, [0, 4, 8])
    assert indices.tolist() == [0, 4, 8]
    assert np.array_equal(vectors, embedder.embed(frames[[0, 4, 8]]))
    # colour frames are converted to gray: a BGR copy of a gray frame embeds the same
    bgr = [cv2.cvtColor(frames[i], cv2.COLOR_GRAY2BGR) for i in (0, 4, 8)]
    assert np.array_equal(embedder.embed(bgr), vectors)


def test_embed_batches_and_sizes(frames: np.ndarray) -> None:
    torch.manual_seed(0)
    one_at_a_time = FrameEmbedder(SPEC, batch_size=1)
    torch.manual_seed(0)
    batched = FrameEmbedder(SPEC, batch_size=32)
    a, b = one_at_a_time.embed(frames[:5]), batched.embed(list(frames[:5]))
    assert a.shape == b.shape == (5, 1280)
    np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-2, atol=1e-3)
    # any frame size is squashed to the spec's square input
    odd = np.ascontiguousarray(frames[0][:50, :40])
    assert batched.embed([odd]).shape == (1, 1280)
    assert batched.embed(np.zeros((0, 64, 64), np.uint8)).shape == (0, 1280)


def test_cache_computes_once_and_returns_what_compute_returned(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    calls = []
    rng = np.random.default_rng(0)
    result = (np.array([0, 4, 8], np.int32), rng.standard_normal((3, 16)).astype(np.float16))

    def compute() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return result

    first = cache.get(SPEC, content_id="abc123", frame_step=4, compute=compute)
    second = cache.get(SPEC, content_id="abc123", frame_step=4, compute=compute)
    assert len(calls) == 1
    for got in (first, second):
        assert np.array_equal(got[0], result[0]) and np.array_equal(got[1], result[1])
        assert got[1].dtype == np.float16
    path = cache.path(SPEC, "abc123", 4)
    assert path == tmp_path / "cache" / "efficientnet_lite0-random-32" / "abc123-s4.npz" and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left behind


@pytest.mark.parametrize("corruption", ["garbage", "truncated", "empty"])
def test_cache_recomputes_a_corrupt_entry(tmp_path: Path, corruption: str) -> None:
    cache = EmbeddingCache(tmp_path)
    calls = []
    result = (np.arange(3, dtype=np.int32), np.ones((3, 4), np.float16))

    def compute() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return result

    cache.get(SPEC, content_id="v1", frame_step=1, compute=compute)
    path = cache.path(SPEC, "v1", 1)
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not numpy" * 20, "truncated": data[: len(data) // 2], "empty": b""}[corruption])
    frames, vectors = cache.get(SPEC, content_id="v1", frame_step=1, compute=compute)
    assert len(calls) == 2
    assert np.array_equal(frames, result[0]) and np.array_equal(vectors, result[1])
    assert path.read_bytes() == data  # rewritten whole
    cache.get(SPEC, content_id="v1", frame_step=1, compute=compute)
    assert len(calls) == 2


def test_cache_separates_frame_steps_specs_and_contents(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    calls: list[tuple[str, int, int]] = []

    def computer(spec: EmbeddingSpec, content: str, step: int):
        def compute() -> tuple[np.ndarray, np.ndarray]:
            calls.append((spec.key, len(content), step))
            return np.array([len(calls)], np.int32), np.full((1, 2), len(calls), np.float16)
        return compute

    bigger = EmbeddingSpec(pretrained=None, size=64)
    imagenet = EmbeddingSpec()
    keys = [(SPEC, "a", 1), (SPEC, "a", 4), (bigger, "a", 1), (imagenet, "a", 1), (SPEC, "bb", 1)]
    for spec, content, step in keys:
        cache.get(spec, content_id=content, frame_step=step, compute=computer(spec, content, step))
    assert len(calls) == len(keys)
    for n, (spec, content, step) in enumerate(keys, start=1):  # each entry keeps its own result
        frames, _ = cache.get(spec, content_id=content, frame_step=step, compute=computer(spec, content, step))
        assert frames.tolist() == [n]
    assert len(calls) == len(keys)
    assert {p.parent.name for p in tmp_path.rglob("*.npz")} == {
        "efficientnet_lite0-random-32", "efficientnet_lite0-random-64", "efficientnet_lite0-imagenet-224"}


def test_cache_content_id_is_made_file_safe(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    path = cache.path(SPEC, "../../etc/pass wd", 2)
    assert path.parent == tmp_path / SPEC.key and path.name == "etcpasswd-s2.npz"
    with pytest.raises(ValueError, match="content_id needs letters or digits"):
        cache.path(SPEC, "/../", 1)


def test_file_sha256(tmp_path: Path) -> None:
    data = bytes(range(256)) * 50
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == file_sha256(path, chunk=7) == hashlib.sha256(data).hexdigest()


def test_embedding_spec_validation() -> None:
    assert EmbeddingSpec().key == "efficientnet_lite0-imagenet-224"
    assert SPEC.key == "efficientnet_lite0-random-32"
    with pytest.raises(ValueError, match="size must be >= 32, got 31"):
        EmbeddingSpec(pretrained=None, size=31)
    with pytest.raises(ValueError, match="unknown encoder 'resnet50'; choose one of efficientnet_lite0"):
        EmbeddingSpec(encoder="resnet50")
    with pytest.raises(ValueError, match="pretrained must be"):
        EmbeddingSpec(pretrained="imagenet21k")


def test_video_bag_defaults_are_not_shared() -> None:
    a = VideoBag("v1", "p1", np.zeros((2, 4), np.float16), np.array([0, 4]))
    b = VideoBag("v2", "p1", np.zeros((2, 4), np.float16), np.array([0, 4]))
    a.findings["b_lines"] = True
    assert a.score is None and b.findings == {}
