"""Frozen-encoder frame embeddings, computed once per encoder and video and cached on disk.

The recipe that learns on 2 CPU cores: a pretrained encoder (:mod:`ml.models.encoders`) embeds every
``frame_step``-th frame once; small heads (:class:`ml.models.EmbeddingVideoScorer`) then train in
seconds on the cached embeddings, across folds and jobs.

    embedder = FrameEmbedder(EmbeddingSpec())
    cache = EmbeddingCache("var/embeddings")
    frames, vectors = cache.get(embedder.spec, content_id=sha, frame_step=4,
                                compute=lambda: embed_video_file(embedder, path, frame_step=4))

A cache entry is named by the encoder's key (name, weights, input size), the content id (the video
file's SHA-256, or the platform's video hash) and the frame step; a changed video is a new entry.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ml.data.transforms import to_grayscale
from ml.data.video_io import open_video
from ml.hashing import file_sha256
from ml.models.encoders import PretrainedEncoder, check_encoder_args

__all__ = [
    "EmbeddingCache",
    "EmbeddingSpec",
    "FrameEmbedder",
    "VideoBag",
    "embed_image_files",
    "embed_video_file",
    "folder_bags",
]


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which encoder embeds frames, with which weights, at which square input size."""

    encoder: str = "efficientnet_lite0"
    pretrained: str | None = "imagenet"
    size: int = 224

    def __post_init__(self) -> None:
        check_encoder_args(self.encoder, self.pretrained)
        if self.size < 32:
            raise ValueError(f"size must be >= 32, got {self.size}")

    @property
    def key(self) -> str:
        """A file-name-safe identity of the embedding space (two specs with one key give equal vectors)."""
        return f"{self.encoder}-{self.pretrained or 'random'}-{self.size}"


@dataclass
class VideoBag:
    """One video's embedded frames and its labels (what the embedding heads train on).

    Attributes:
        video: video id; patient: patient id (splits are by patient).
        embeddings: ``(N, D)`` float16/32; frames: ``(N,)`` the frame index of each row.
        score: the video's 0–3 severity score, or ``None`` when unlabelled.
        findings: finding code -> present, for the findings the label records (others unknown).
    """

    video: str
    patient: str
    embeddings: np.ndarray
    frames: np.ndarray
    score: int | None = None
    findings: dict[str, bool] = field(default_factory=dict)


class FrameEmbedder:
    """Embeds grayscale uint8 frames with a frozen pretrained encoder (eval mode, no autograd)."""

    def __init__(self, spec: EmbeddingSpec | None = None, *, device: str | torch.device = "cpu",
                 batch_size: int = 32) -> None:
        self.spec = spec or EmbeddingSpec()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.encoder = PretrainedEncoder(self.spec.encoder, self.spec.pretrained).to(self.device).eval()

    @property
    def dimension(self) -> int:
        return self.encoder.out_features

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        gray = to_grayscale(frame)
        if gray.shape != (self.spec.size, self.spec.size):
            gray = cv2.resize(gray, (self.spec.size, self.spec.size), interpolation=cv2.INTER_AREA)
        return gray

    @torch.no_grad()
    def embed(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """``N`` frames (any size, gray or BGR uint8) -> ``(N, D)`` float16 embeddings (squashed to the
        square input size: LUS frames are near-square and the encoder saw whole images)."""
        out = np.zeros((len(frames), self.dimension), dtype=np.float16)
        for start in range(0, len(frames), self.batch_size):
            batch = np.stack([self._prepare(f) for f in frames[start:start + self.batch_size]])
            x = torch.from_numpy(batch).to(self.device).float().div_(127.5).sub_(1.0).unsqueeze(1)
            out[start:start + len(batch)] = self.encoder(x).float().cpu().numpy()
        return out


def embed_video_file(embedder: FrameEmbedder, path: str | Path, *, frame_step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Embed every ``frame_step``-th frame of a video file: ``(frame indices (N,), embeddings (N, D))``.

    Raises:
        FileNotFoundError: when the file is missing or holds no decodable frame.
    """
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    cap = open_video(path)
    frames, indices = [], []
    try:
        index = 0
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % frame_step == 0:
                ok, frame = cap.retrieve()
                if ok:
                    frames.append(frame)
                    indices.append(index)
            index += 1
    finally:
        cap.release()
    if not frames:
        raise FileNotFoundError(f"no decodable frame in {path}")
    return np.asarray(indices, dtype=np.int32), embedder.embed(frames)


def embed_image_files(embedder: FrameEmbedder, paths: Sequence[str | Path],
                      indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Embed frames stored as image files (the platform's PNGs): ``(indices (N,), embeddings (N, D))``."""
    from ml.data import read_image

    return np.asarray(indices, dtype=np.int32), embedder.embed([read_image(p) for p in paths])


class EmbeddingCache:
    """Embeddings on disk: ``<folder>/<spec key>/<content id>-s<frame step>.npz`` (frames, embeddings).

    Writes are atomic (a temporary file renamed into place), so concurrent workers never read half a
    file; a corrupt entry is recomputed."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, spec: EmbeddingSpec, content_id: str, frame_step: int) -> Path:
        safe = "".join(c for c in content_id if c.isalnum() or c in "-_")[:80]
        if not safe:
            raise ValueError("content_id needs letters or digits")
        return self.folder / spec.key / f"{safe}-s{frame_step}.npz"

    def get(self, spec: EmbeddingSpec, *, content_id: str, frame_step: int,
            compute: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The cached ``(frames, embeddings)``, computing and storing them on a miss."""
        path = self.path(spec, content_id, frame_step)
        if path.is_file():
            try:
                with np.load(path) as data:
                    return data["frames"], data["embeddings"]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # truncated/empty files too
                path.unlink(missing_ok=True)  # corrupt: recompute below
        frames, embeddings = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, frames=frames, embeddings=embeddings)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return frames, embeddings


def folder_bags(folder: str | Path, cache: EmbeddingCache, *, spec: EmbeddingSpec | None = None, frame_step: int = 4,
                embedder: FrameEmbedder | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[VideoBag]:
    """Every scored video of a folder in the COVID-BLUeS layout (``lus_videos/*.mp4``, ``severity.csv``)
    as embedded frames, with its A-lines/B-lines findings when the CSV has them; embeddings are cached."""
    from ml.data.covid_blues import read_covid_blues

    spec = spec or (embedder.spec if embedder is not None else EmbeddingSpec())
    videos, _ = read_covid_blues(folder)
    bags = []
    for number, video in enumerate(videos, start=1):

        def compute(path: Path = video.path) -> tuple[np.ndarray, np.ndarray]:
            nonlocal embedder
            embedder = embedder or FrameEmbedder(spec)
            return embed_video_file(embedder, path, frame_step=frame_step)

        frames, vectors = cache.get(spec, content_id=file_sha256(video.path), frame_step=frame_step, compute=compute)
        bags.append(VideoBag(video=video.video, patient=video.patient, embeddings=vectors, frames=frames,
                             score=video.score, findings={k.removeprefix("finding_"): bool(v)
                                                          for k, v in video.findings.items()}))
        if progress is not None:
            progress(number, len(videos))
    return bags
